//! `sbx inspect [--type container|image] NAME...`: a JSON array with each container's config,
//! state (exit code, pid, start and finish times, OOM), mounts and writable layer, or each image's
//! names, config and layers, as docker prints them; a name is looked for among the containers
//! first, then the images (docker's order). `sbx image inspect` looks among the images only. Like
//! docker, an unknown name prints an error and makes the exit code 1.

use super::format::Format;
use crate::container::{health, state, view};
use crate::image::{Store, inspect as image_view};
use clap::{Args, ValueEnum};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    Container,
    Image,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Look only among containers or only among images.
    #[arg(long = "type", value_enum)]
    pub kind: Option<Kind>,
    /// A Go template applied to each ('{{.State.Status}}', '{{json .Config}}'); json (the
    /// default) prints the whole array.
    #[arg(short, long, value_parser = super::format::parse)]
    pub format: Option<Format>,
    /// Names or id prefixes.
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// `sbx image inspect` and `sbx container inspect`: names of one kind.
#[derive(Args, Debug)]
pub struct KindInspectArgs {
    /// A Go template applied to each ('{{.Id}}'); json (the default) prints the whole array.
    #[arg(short, long, value_parser = super::format::parse)]
    pub format: Option<Format>,
    /// Names or id prefixes.
    #[arg(required = true)]
    pub names: Vec<String>,
}

pub fn image_inspect(store: &Store, args: KindInspectArgs) -> i32 {
    inspect(store, InspectArgs { kind: Some(Kind::Image), format: args.format, names: args.names })
}

pub fn container_inspect(store: &Store, args: KindInspectArgs) -> i32 {
    inspect(store, InspectArgs { kind: Some(Kind::Container), format: args.format, names: args.names })
}

pub fn inspect(store: &Store, args: InspectArgs) -> i32 {
    let mut found = Vec::new();
    let mut code = 0;
    for query in &args.names {
        match document(store, query, args.kind) {
            Ok(doc) => found.push(doc),
            Err(e) => {
                eprintln!("sbx: {e}");
                code = 1;
            }
        }
    }
    match args.format {
        Some(f @ Format::Template { .. }) => {
            code.max(super::format::print(&f, &found, &serde_json::Value::Null, || {}))
        }
        _ => {
            say!("{}", serde_json::to_string_pretty(&found).expect("serializable"));
            code
        }
    }
}

fn document(store: &Store, query: &str, kind: Option<Kind>) -> Result<serde_json::Value, String> {
    if kind != Some(Kind::Image) {
        match state::find(store, query) {
            Ok((dir, record)) => {
                let spec = state::load_spec(&dir);
                let live = state::live(&dir, &record);
                return Ok(view::inspect(
                    &record,
                    spec.as_ref(),
                    live,
                    &dir.to_string_lossy(),
                    store.root(),
                    health::read(&dir).as_ref(),
                ));
            }
            Err(e) if kind == Some(Kind::Container) || !e.is_refusal() => return Err(e.to_string()),
            Err(_) => {}
        }
    }
    let image = match store.find_image(query) {
        Err(crate::image::StoreError::NotFound(_)) if kind.is_none() => {
            let volume = crate::volume::get(store, query).map_err(|_| format!("no such object: {query}"))?;
            return Ok(super::volume::document(store, &volume));
        }
        found => found.map_err(|e| e.to_string())?,
    };
    let bytes = store.blob(&image.id).map_err(|e| e.to_string())?;
    let config =
        serde_json::from_slice(&bytes).map_err(|e| format!("image {}: its config is not JSON: {e}", image.id))?;
    Ok(image_view::document(&image, &config))
}
