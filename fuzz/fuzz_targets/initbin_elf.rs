//! Fuzz the static-ELF check that decides whether a binary may become the
//! capture initramfs's `/init` (`arm::initbin::needs_loader`): never a
//! panic, whatever the header's offsets and counts say. The answer may only
//! depend on bytes the ELF header and program headers cover, so appending
//! bytes to an input that already got an answer must not change it.
#![no_main]
use arm::initbin::needs_loader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let answer = needs_loader(data);
    if answer.is_some() {
        let mut longer = data.to_vec();
        longer.extend_from_slice(&[0xff; 64]);
        assert_eq!(needs_loader(&longer), answer);
    }
});
