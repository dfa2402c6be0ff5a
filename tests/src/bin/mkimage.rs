//! `mkimage KIND FORMAT OUT`: writes a test image. KIND: busybox | layered | setuid | many:N | files:N
//! (N files in one layer, 100 to a directory).
//! FORMAT: oci | oci-archive | docker-archive. Used by the demo and the benches.

use anyhow::{Result, bail};
use sbx_tests::image::{Compression, Image};
use std::path::Path;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, kind, format, out] = &args[..] else {
        bail!("usage: mkimage busybox|layered|setuid|many:N|files:N oci|oci-archive|docker-archive OUT");
    };
    let image: Image = sbx_tests::harness::test_image(kind)?;
    let out = Path::new(out);
    match format.as_str() {
        "oci" => image.write_oci_layout(out, Compression::Gzip)?,
        "oci-archive" => image.write_oci_archive(out, Compression::Gzip)?,
        "docker-archive" => image.write_docker_archive(out)?,
        other => bail!("unknown format {other}"),
    }
    Ok(())
}
