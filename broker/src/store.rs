//! The message list (the server's `MessageList`) and its optional write-ahead log.
//!
//! WAL format: the magic `KMQWAL02`, then records, each a tag byte and little-endian fields:
//! - `S` stored:   code u128, create_ms i64, delay i64, status i8, topic_len u32, data_len u32,
//!   topic, data
//! - `C` consumed: code u128, consumed_s i64
//! - `D` deleted:  code u128
//! - `U` updated by the periodic check: code u128, delay i64, status i8
//!
//! A record cut short by a kill at the tail is dropped (and the file truncated) on replay.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

const MAGIC: &[u8; 8] = b"KMQWAL02";

/// Codes are random, so their low bits are a fine hash.
#[derive(Default)]
pub struct CodeHasher(u64);
impl Hasher for CodeHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ b as u64;
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64 ^ (v >> 64) as u64;
    }
}
type CodeMap<V> = HashMap<u128, V, BuildHasherDefault<CodeHasher>>;

#[derive(Clone)]
pub struct Entry {
    pub data: Arc<str>,
    pub topic: Arc<str>,
    pub create_ms: i64,
    pub consumed: i64,
    pub delay: i64,
    pub status: i8,
    pub seq: u64,
}

impl Entry {
    pub fn create_s(&self) -> i64 {
        self.create_ms.div_euclid(1000)
    }
    fn item(&self, code: u128) -> PushItem {
        PushItem {
            code,
            data: self.data.clone(),
            topic: self.topic.clone(),
            create: self.create_s(),
            consumed: self.consumed,
            delay: self.delay,
            status: self.status,
        }
    }
}

/// A snapshot of a message on its way to consumers.
#[derive(Clone)]
pub struct PushItem {
    pub code: u128,
    pub data: Arc<str>,
    pub topic: Arc<str>,
    pub create: i64,
    pub consumed: i64,
    pub delay: i64,
    pub status: i8,
}

struct Inner {
    map: CodeMap<Entry>,
    seq: u64,
    wal: Option<File>,
    walbuf: Vec<u8>,
}

impl Inner {
    /// Appends the pending WAL bytes (one write(2), no fsync).
    fn flush_wal(&mut self) {
        if self.walbuf.is_empty() {
            return;
        }
        if let Some(f) = self.wal.as_mut() {
            if let Err(e) = f.write_all(&self.walbuf) {
                eprintln!("kmq-broker: WAL write failed: {e}");
            }
        }
        self.walbuf.clear();
    }
}

pub struct Store {
    inner: Mutex<Inner>,
    clean_consumed: bool,
    retry_ms: i64,
}

fn delay_ms(delay: i64) -> i64 {
    delay.saturating_mul(1000)
}

impl Store {
    pub fn open(wal: Option<&Path>, clean_consumed: bool, retry_ms: i64) -> std::io::Result<Store> {
        let mut inner = Inner { map: CodeMap::default(), seq: 0, wal: None, walbuf: Vec::new() };
        if let Some(path) = wal {
            let mut f = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes)?;
            if bytes.is_empty() {
                f.write_all(MAGIC)?;
            } else {
                if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "{} is not a kmq-broker WAL of this version (it must start with {:?})",
                            path.display(),
                            String::from_utf8_lossy(MAGIC)
                        ),
                    ));
                }
                let valid = replay(&bytes[MAGIC.len()..], &mut inner) + MAGIC.len();
                if valid < bytes.len() {
                    eprintln!("kmq-broker: WAL: dropping {} bytes of a cut record at the tail", bytes.len() - valid);
                    f.set_len(valid as u64)?;
                }
                f.seek(SeekFrom::Start(valid as u64))?;
            }
            inner.wal = Some(f);
        }
        Ok(Store { inner: Mutex::new(inner), clean_consumed, retry_ms })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores new messages of one topic, in order; returns them as push items.
    pub fn insert(&self, topic: &Arc<str>, msgs: Vec<(String, i64)>, now_ms: i64) -> Vec<PushItem> {
        let mut items = Vec::with_capacity(msgs.len());
        let mut g = self.lock();
        let g = &mut *g;
        let wal = g.wal.is_some();
        for (data, delay) in msgs {
            let code = crate::util::new_code();
            let status: i8 = if delay > 0 { 0 } else { -1 };
            if wal {
                let b = &mut g.walbuf;
                b.push(b'S');
                b.extend_from_slice(&code.to_le_bytes());
                b.extend_from_slice(&now_ms.to_le_bytes());
                b.extend_from_slice(&delay.to_le_bytes());
                b.push(status as u8);
                b.extend_from_slice(&(topic.len() as u32).to_le_bytes());
                b.extend_from_slice(&(data.len() as u32).to_le_bytes());
                b.extend_from_slice(topic.as_bytes());
                b.extend_from_slice(data.as_bytes());
            }
            g.seq += 1;
            let e = Entry {
                data: Arc::from(data),
                topic: topic.clone(),
                create_ms: now_ms,
                consumed: 0,
                delay,
                status,
                seq: g.seq,
            };
            items.push(e.item(code));
            g.map.insert(code, e);
        }
        g.flush_wal();
        items
    }

    /// Consume acks: mark consumed (or delete with clean-consumed). Unknown codes are ignored.
    pub fn consume(&self, codes: &[u128], now_s: i64) {
        let mut g = self.lock();
        let g = &mut *g;
        let wal = g.wal.is_some();
        for &code in codes {
            if self.clean_consumed {
                if g.map.remove(&code).is_some() && wal {
                    g.walbuf.push(b'D');
                    g.walbuf.extend_from_slice(&code.to_le_bytes());
                }
            } else if let Some(e) = g.map.get_mut(&code) {
                e.status = 1;
                e.consumed = now_s;
                if wal {
                    g.walbuf.push(b'C');
                    g.walbuf.extend_from_slice(&code.to_le_bytes());
                    g.walbuf.extend_from_slice(&now_s.to_le_bytes());
                }
            }
        }
        g.flush_wal();
    }

    pub fn delete(&self, code: u128) {
        let mut g = self.lock();
        if g.map.remove(&code).is_some() && g.wal.is_some() {
            g.walbuf.push(b'D');
            g.walbuf.extend_from_slice(&code.to_le_bytes());
            g.flush_wal();
        }
    }

    pub fn get(&self, code: u128) -> Option<Entry> {
        self.lock().map.get(&code).cloned()
    }

    /// (all, consumed, delay, unconsumed)
    pub fn count(&self) -> (i64, i64, i64, i64) {
        let g = self.lock();
        let (mut c, mut d, mut u) = (0, 0, 0);
        for e in g.map.values() {
            match e.status {
                -1 => u += 1,
                0 => d += 1,
                1 => c += 1,
                _ => {}
            }
        }
        (g.map.len() as i64, c, d, u)
    }

    /// Messages created in [start, end] (seconds) with `status` (3 = any) and `topic`
    /// ("" = any), newest first.
    pub fn list(&self, start: i64, end: i64, status: i64, topic: &str) -> Vec<(u128, Entry)> {
        let g = self.lock();
        let mut v: Vec<(u128, Entry)> = g
            .map
            .iter()
            .filter(|(_, e)| {
                let ts = e.create_s();
                ts >= start
                    && ts <= end
                    && (status == 3 || e.status as i64 == status)
                    && (topic.is_empty() || &*e.topic == topic)
            })
            .map(|(c, e)| (*c, e.clone()))
            .collect();
        v.sort_by(|a, b| b.1.create_s().cmp(&a.1.create_s()).then(b.1.seq.cmp(&a.1.seq)));
        v
    }

    /// The server's periodic `checkMessage`: drop messages older than `clean_ms`, release due
    /// delayed messages, re-push unconsumed ones whose retry time passed. Returns what to push,
    /// in arrival order.
    pub fn check(&self, now_ms: i64, clean_ms: i64) -> Vec<PushItem> {
        let mut out: Vec<(u64, PushItem)> = Vec::new();
        let mut guard = self.lock();
        let g = &mut *guard;
        let wal = g.wal.is_some();
        let retry_ms = self.retry_ms;
        let now_s = now_ms.div_euclid(1000);
        let walbuf = &mut g.walbuf;
        g.map.retain(|code, e| {
            let age_s = now_s - e.create_s();
            if age_s.saturating_mul(1000) > clean_ms {
                if wal {
                    walbuf.push(b'D');
                    walbuf.extend_from_slice(&code.to_le_bytes());
                }
                return false;
            }
            // The node compares whole seconds: a delayed message is due once
            // `CreateTime + DelayTime <= now`, and a waiting one is pushed
            // again once `DelayTime + pushRetryTime < now - CreateTime`, its
            // DelayTime becoming that age (so the next retry counts from it).
            let update = if e.status == 0 {
                if e.delay > age_s {
                    return true;
                }
                e.status = -1;
                true
            } else if e.status == -1 && age_s.saturating_mul(1000) > delay_ms(e.delay).saturating_add(retry_ms) {
                e.delay = age_s;
                true
            } else {
                false
            };
            if update {
                if wal {
                    walbuf.push(b'U');
                    walbuf.extend_from_slice(&code.to_le_bytes());
                    walbuf.extend_from_slice(&e.delay.to_le_bytes());
                    walbuf.push(e.status as u8);
                }
                out.push((e.seq, e.item(*code)));
            }
            true
        });
        g.flush_wal();
        drop(guard);
        out.sort_by_key(|(s, _)| *s);
        out.into_iter().map(|(_, i)| i).collect()
    }
}

/// Applies WAL records; returns how many bytes were whole records.
fn replay(b: &[u8], inner: &mut Inner) -> usize {
    let mut topics: HashMap<String, Arc<str>> = HashMap::new();
    let mut i = 0;
    let u128_at = |p: usize| u128::from_le_bytes(b[p..p + 16].try_into().unwrap());
    let i64_at = |p: usize| i64::from_le_bytes(b[p..p + 8].try_into().unwrap());
    let u32_at = |p: usize| u32::from_le_bytes(b[p..p + 4].try_into().unwrap()) as usize;
    while i < b.len() {
        let rest = b.len() - i;
        match b[i] {
            b'S' => {
                const FIXED: usize = 1 + 16 + 8 + 8 + 1 + 4 + 4;
                if rest < FIXED {
                    break;
                }
                let tl = u32_at(i + 34);
                let dl = u32_at(i + 38);
                if rest < FIXED + tl + dl {
                    break;
                }
                let code = u128_at(i + 1);
                let create_ms = i64_at(i + 17);
                let delay = i64_at(i + 25);
                let status = b[i + 33] as i8;
                let t0 = i + FIXED;
                let topic_s = String::from_utf8_lossy(&b[t0..t0 + tl]).into_owned();
                let data = String::from_utf8_lossy(&b[t0 + tl..t0 + tl + dl]);
                let topic = topics.entry(topic_s.clone()).or_insert_with(|| Arc::from(topic_s)).clone();
                inner.seq += 1;
                inner.map.insert(
                    code,
                    Entry { data: Arc::from(&*data), topic, create_ms, consumed: 0, delay, status, seq: inner.seq },
                );
                i += FIXED + tl + dl;
            }
            b'C' => {
                if rest < 25 {
                    break;
                }
                if let Some(e) = inner.map.get_mut(&u128_at(i + 1)) {
                    e.status = 1;
                    e.consumed = i64_at(i + 17);
                }
                i += 25;
            }
            b'D' => {
                if rest < 17 {
                    break;
                }
                inner.map.remove(&u128_at(i + 1));
                i += 17;
            }
            b'U' => {
                if rest < 26 {
                    break;
                }
                if let Some(e) = inner.map.get_mut(&u128_at(i + 1)) {
                    if e.status != 1 {
                        e.delay = i64_at(i + 17);
                        e.status = b[i + 25] as i8;
                    }
                }
                i += 26;
            }
            _ => break,
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wal_roundtrip_and_cut_tail() {
        let dir = std::env::temp_dir().join(format!("kmq-wal-test-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let topic: Arc<str> = Arc::from("t");
        let codes: Vec<u128>;
        {
            let s = Store::open(Some(&dir), false, 1000).unwrap();
            let items = s.insert(&topic, vec![("a".into(), 0), ("b".into(), 5), ("c".into(), 0)], 1_000_000);
            codes = items.iter().map(|i| i.code).collect();
            s.consume(&codes[..1], 1000);
            s.delete(codes[2]);
        }
        // a cut record at the tail
        let mut f = OpenOptions::new().append(true).open(&dir).unwrap();
        f.write_all(b"S\x01\x02").unwrap();
        drop(f);
        let s = Store::open(Some(&dir), false, 1000).unwrap();
        assert_eq!(s.count(), (2, 1, 1, 0));
        assert_eq!(&*s.get(codes[1]).unwrap().data, "b");
        s.insert(&topic, vec![("d".into(), 0)], 1_000_001);
        drop(s);
        let s = Store::open(Some(&dir), false, 1000).unwrap();
        assert_eq!(s.count(), (3, 1, 1, 1));
        let _ = std::fs::remove_file(&dir);
    }
}
