//! sbx's own masks in /proc/self/status: its capability sets (`CapBnd`, `CapEff`...) and the
//! signals it ignores (`SigIgn`) and catches (`SigCgt`), several read at once.

/// The masks of `fields`, or None when /proc/self/status cannot be read.
pub fn own_masks<const N: usize>(fields: [&str; N]) -> Option<[u64; N]> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    Some(fields.map(|f| mask_in(&status, f)))
}

/// The hexadecimal mask of `field` in a status text; 0 when it has none. Pure.
fn mask_in(status: &str, field: &str) -> u64 {
    let hex = status.lines().find_map(|l| l.strip_prefix(field)?.strip_prefix(':')).map(str::trim);
    hex.and_then(|h| u64::from_str_radix(h, 16).ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mask_is_read_by_its_field_name_whole() {
        let status = "Name:\tsbx\nSigIgn:\t0000000000001000\nSigCgt:\t0000000180000440\nCapBnd:\t000001ffffffffff\n";
        assert_eq!(mask_in(status, "SigIgn"), 1 << 12);
        assert_eq!(mask_in(status, "SigCgt"), 0x1_8000_0440);
        assert_eq!(mask_in(status, "CapBnd"), 0x1ff_ffff_ffff);
        assert_eq!(mask_in(status, "Sig"), 0);
        assert_eq!(mask_in(status, "CapEff"), 0);
    }
}
