#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kapokmq_fuzz::encode_send(data));
