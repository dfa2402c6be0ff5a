//! allow-all: a policy that allows every image and mounts every layer. The smallest plugin, and
//! the baseline for measuring what a plugin call costs.

pub struct AllowAll;

impl sbx_plugin::Plugin for AllowAll {
    type Settings = sbx_plugin::NoSettings;
}

impl sbx_plugin::Policy for AllowAll {}

sbx_plugin::export_policy!(AllowAll);

#[cfg(test)]
mod tests {
    use super::*;
    use sbx_plugin::{LayerVerdict, NoSettings, Policy, Verdict, testing};

    #[test]
    fn allows_everything() {
        let image = testing::image();
        let layer = testing::layer(vec![testing::file("bin/su", 0o4755, 10)]);
        assert_eq!(AllowAll::check_image(&NoSettings {}, &image), Verdict::Allow);
        assert_eq!(AllowAll::check_layer(&NoSettings {}, &image, &layer), LayerVerdict::Mount);
    }
}
