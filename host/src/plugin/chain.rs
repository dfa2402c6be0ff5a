//! Combining the verdicts of several policies, in order: every plugin must allow, the first deny
//! stops everything, and a plugin that fails is a deny (fail closed). Pure over [`PolicyCheck`].

use super::bindings::{Image, Layer, LayerVerdict, Verdict};
use super::engine::PluginError;

pub trait PolicyCheck {
    fn name(&self) -> &str;
    fn check_image(&self, image: &Image) -> Result<Verdict, PluginError>;
    fn check_layer(&self, image: &Image, layer: &Layer) -> Result<LayerVerdict, PluginError>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    pub layer: usize,
    pub plugin: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Run, leaving out the skipped layers.
    Allow {
        skipped: Vec<Skip>,
    },
    Deny {
        plugin: String,
        reason: String,
    },
}

/// Evaluates `plugins` on the image, then on each layer bottom first. `layer(i)` builds the WIT
/// record of layer `i` (reading its index); it is called only when there are plugins to see it.
pub fn evaluate(
    plugins: &[&dyn PolicyCheck],
    image: &Image,
    mut layer: impl FnMut(usize) -> Result<Layer, String>,
) -> Decision {
    let deny = |plugin: &str, reason: String| Decision::Deny {
        plugin: plugin.to_string(),
        reason,
    };
    for p in plugins {
        match p.check_image(image) {
            Ok(Verdict::Allow) => {}
            Ok(Verdict::Deny(reason)) => return deny(p.name(), reason),
            Err(e) => return deny(p.name(), e.to_string()),
        }
    }
    let mut skipped = Vec::new();
    if plugins.is_empty() {
        return Decision::Allow { skipped };
    }
    for i in 0..image.layers.len() {
        let record = match layer(i) {
            Ok(r) => r,
            Err(reason) => return deny("sbx", reason),
        };
        for p in plugins {
            match p.check_layer(image, &record) {
                Ok(LayerVerdict::Mount) => {}
                Ok(LayerVerdict::Skip(reason)) => {
                    skipped.push(Skip {
                        layer: i,
                        plugin: p.name().to_string(),
                        reason,
                    });
                    break;
                }
                Ok(LayerVerdict::Deny(reason)) => return deny(p.name(), reason),
                Err(e) => return deny(p.name(), e.to_string()),
            }
        }
    }
    Decision::Allow { skipped }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::bindings::ImageConfig;
    use std::cell::RefCell;

    /// A scripted policy that records what it was asked.
    struct Scripted {
        name: &'static str,
        image: Result<Verdict, ()>,
        layer: fn(u32) -> LayerVerdict,
        seen: RefCell<Vec<String>>,
    }

    impl Scripted {
        fn new(
            name: &'static str,
            image: Result<Verdict, ()>,
            layer: fn(u32) -> LayerVerdict,
        ) -> Self {
            Scripted {
                name,
                image,
                layer,
                seen: RefCell::new(vec![]),
            }
        }
    }

    impl PolicyCheck for Scripted {
        fn name(&self) -> &str {
            self.name
        }
        fn check_image(&self, _: &Image) -> Result<Verdict, PluginError> {
            self.seen.borrow_mut().push("image".into());
            self.image.clone().map_err(|()| PluginError::Call {
                plugin: self.name.into(),
                func: "check-image",
                message: "trapped".into(),
            })
        }
        fn check_layer(&self, _: &Image, l: &Layer) -> Result<LayerVerdict, PluginError> {
            self.seen.borrow_mut().push(format!("layer {}", l.index));
            Ok((self.layer)(l.index))
        }
    }

    fn image(layers: usize) -> Image {
        Image {
            reference: "x".into(),
            names: vec![],
            manifest_digest: String::new(),
            config_digest: String::new(),
            os: "linux".into(),
            architecture: "amd64".into(),
            config: ImageConfig {
                user: None,
                env: vec![],
                entrypoint: vec![],
                cmd: vec![],
                working_dir: None,
                labels: vec![],
                exposed_ports: vec![],
            },
            history: vec![],
            layers: vec!["sha256:0".into(); layers],
        }
    }

    fn layer(i: usize) -> Result<Layer, String> {
        Ok(Layer {
            index: i as u32,
            digest: String::new(),
            diff_id: String::new(),
            media_type: String::new(),
            size: 0,
            unpacked_size: 0,
            created_by: None,
            entries: vec![],
        })
    }

    #[test]
    fn all_allow_runs_every_check_in_order() {
        let a = Scripted::new("a", Ok(Verdict::Allow), |_| LayerVerdict::Mount);
        let b = Scripted::new("b", Ok(Verdict::Allow), |_| LayerVerdict::Mount);
        assert_eq!(
            evaluate(&[&a, &b], &image(2), layer),
            Decision::Allow { skipped: vec![] }
        );
        assert_eq!(*a.seen.borrow(), ["image", "layer 0", "layer 1"]);
        assert_eq!(*b.seen.borrow(), ["image", "layer 0", "layer 1"]);
    }

    #[test]
    fn first_image_deny_stops_before_later_plugins() {
        let a = Scripted::new("a", Ok(Verdict::Deny("no".into())), |_| LayerVerdict::Mount);
        let b = Scripted::new("b", Ok(Verdict::Allow), |_| LayerVerdict::Mount);
        assert_eq!(
            evaluate(&[&a, &b], &image(1), layer),
            Decision::Deny {
                plugin: "a".into(),
                reason: "no".into()
            }
        );
        assert!(b.seen.borrow().is_empty());
    }

    #[test]
    fn layer_deny_names_plugin_and_stops() {
        let a = Scripted::new("a", Ok(Verdict::Allow), |i| {
            if i == 1 {
                LayerVerdict::Deny("setuid".into())
            } else {
                LayerVerdict::Mount
            }
        });
        let d = evaluate(&[&a], &image(3), layer);
        assert_eq!(
            d,
            Decision::Deny {
                plugin: "a".into(),
                reason: "setuid".into()
            }
        );
        assert_eq!(*a.seen.borrow(), ["image", "layer 0", "layer 1"]);
    }

    #[test]
    fn a_failing_plugin_denies() {
        let a = Scripted::new("a", Err(()), |_| LayerVerdict::Mount);
        let Decision::Deny { plugin, reason } = evaluate(&[&a], &image(1), layer) else {
            panic!("must deny")
        };
        assert_eq!(plugin, "a");
        assert!(reason.contains("trapped"), "{reason}");
    }

    #[test]
    fn skip_is_recorded_and_later_plugins_do_not_see_the_layer() {
        let a = Scripted::new("a", Ok(Verdict::Allow), |i| {
            if i == 0 {
                LayerVerdict::Skip("docs".into())
            } else {
                LayerVerdict::Mount
            }
        });
        let b = Scripted::new("b", Ok(Verdict::Allow), |_| LayerVerdict::Mount);
        let d = evaluate(&[&a, &b], &image(2), layer);
        assert_eq!(
            d,
            Decision::Allow {
                skipped: vec![Skip {
                    layer: 0,
                    plugin: "a".into(),
                    reason: "docs".into()
                }]
            }
        );
        assert_eq!(*b.seen.borrow(), ["image", "layer 1"]);
    }

    #[test]
    fn no_plugins_reads_no_layers() {
        let d = evaluate(&[], &image(3), |_| {
            panic!("no layer index is read without plugins")
        });
        assert_eq!(d, Decision::Allow { skipped: vec![] });
    }
}
