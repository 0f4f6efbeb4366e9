//! A kmq-broker process for the end-to-end tests: started on a free loopback port, spoken to
//! with raw HTTP, killed when dropped.

// Each test file uses its own subset of these helpers.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Broker {
    pub child: Child,
    pub port: u16,
}

impl Broker {
    pub fn start(args: &[&str]) -> Broker {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kmq-broker"))
            .args(["--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start kmq-broker");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr =
            line.trim().strip_prefix("kmq-broker listening on ").unwrap_or_else(|| panic!("ready line: {line:?}"));
        assert!(addr.starts_with("127.0.0.1:"), "{addr}");
        let port = addr.rsplit(':').next().unwrap().parse().unwrap();
        Broker { child, port }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Raw HTTP exchange; returns (status line, body).
    pub fn http(&self, raw: &str) -> (String, String) {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(raw.as_bytes()).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let text = String::from_utf8_lossy(&out).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        (head.lines().next().unwrap_or("").to_string(), body.to_string())
    }

    pub fn post(&self, path: &str, key: &str, form: &str) -> String {
        let (status, body) = self.http(&format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nsecretKey: {key}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
            form.len()
        ));
        assert_eq!(status, "HTTP/1.1 200 OK", "{path}");
        body
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}
