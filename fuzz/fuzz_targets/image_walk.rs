//! Fuzz target `image_walk`: the body is integration_tests::fuzz::image_walk, shared
//! with the test suite, which replays every saved input on stable Rust.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| integration_tests::fuzz::image_walk(data));
