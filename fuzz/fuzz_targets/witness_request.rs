//! Fuzz target: the witness's add-checkpoint request reader never panics, and any body it
//! accepts is written back byte for byte (one reading per body).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(request) = idledger_witness::request::parse(data) {
        assert_eq!(request.to_body().as_bytes(), data);
    }
});
