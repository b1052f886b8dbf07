//! Fuzz target: the tlog-tiles path reader never panics, and any path it accepts is the one
//! spelling `TileId::path` writes for that tile (no second name for a tile, which a cache
//! would store twice).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(path) = std::str::from_utf8(data)
        && let Ok(tile) = idledger_proto::tiles::parse_tile_path(path)
    {
        assert_eq!(tile.path(), path);
    }
});
