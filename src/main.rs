//! idledger binary
fn main() {}
