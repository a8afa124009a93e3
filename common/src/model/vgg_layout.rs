//! The two VGG networks a loss can use, VGG16 and VGG19, and the names of their layers
//! (`relu1_1` ... `relu5_4`), so that a config names a layer the same way for either network
//! and the torchvision key (`features.N`) of each conv follows from its position.

/// Which VGG a weights file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VggNet {
    /// 13 convs in blocks of 2, 2, 3, 3, 3 (Johnson et al.'s loss network).
    Vgg16,
    /// 16 convs in blocks of 2, 2, 4, 4, 4 (Gatys et al.'s).
    Vgg19,
}

/// Metadata key naming the network (`vgg16` or `vgg19`); without it the tensors decide.
pub const NETWORK_KEY: &str = "network";

impl VggNet {
    /// The name used in metadata and messages: `vgg16` or `vgg19`.
    pub fn as_str(self) -> &'static str {
        match self {
            VggNet::Vgg16 => "vgg16",
            VggNet::Vgg19 => "vgg19",
        }
    }

    /// Parses a metadata value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "vgg16" => Some(VggNet::Vgg16),
            "vgg19" => Some(VggNet::Vgg19),
            _ => None,
        }
    }

    /// The network whose torchvision keys a file holds: only VGG19 has a conv at
    /// `features.16` (VGG16 has a max-pool there).
    pub fn from_keys<S: AsRef<str>>(keys: &[S]) -> Self {
        if keys.iter().any(|k| k.as_ref() == "features.16.weight") {
            VggNet::Vgg19
        } else {
            VggNet::Vgg16
        }
    }

    /// Convs per block.
    fn blocks(self) -> [usize; 5] {
        match self {
            VggNet::Vgg16 => [2, 2, 3, 3, 3],
            VggNet::Vgg19 => [2, 2, 4, 4, 4],
        }
    }

    /// Number of convs.
    pub fn conv_count(self) -> usize {
        self.blocks().iter().sum()
    }

    /// (block, conv within the block), both from 1, of the conv at `position` (from 0).
    fn block_of(self, position: usize) -> (usize, usize) {
        let mut start = 0;
        for (b, n) in self.blocks().into_iter().enumerate() {
            if position < start + n {
                return (b + 1, position - start + 1);
            }
            start += n;
        }
        (6, 0)
    }

    /// The torchvision `features` index of the conv at `position`: each conv is followed by
    /// a ReLU, each block by a max-pool.
    pub fn feature_index(self, position: usize) -> usize {
        let (block, _) = self.block_of(position);
        2 * position + (block - 1)
    }

    /// Whether a 2x2 max-pool follows the conv at `position` (the last of its block).
    pub fn pool_after(self, position: usize) -> bool {
        let (block, conv) = self.block_of(position);
        block <= 5 && conv == self.blocks()[block - 1]
    }

    /// The name of the ReLU after the conv at `position`, e.g. `relu4_2`.
    pub fn layer_name(self, position: usize) -> String {
        let (block, conv) = self.block_of(position);
        format!("relu{block}_{conv}")
    }

    /// The conv position of a layer name of this network (`relu3_4` exists in VGG19 only).
    pub fn layer_position(self, name: &str) -> Option<usize> {
        (0..self.conv_count()).find(|&p| self.layer_name(p) == name)
    }

    /// The names of the first `depth` layers, in order.
    pub fn layer_names(self, depth: usize) -> Vec<String> {
        (0..depth.min(self.conv_count()))
            .map(|p| self.layer_name(p))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torchvision_indices_of_both_networks() {
        let vgg16: Vec<usize> = (0..13).map(|p| VggNet::Vgg16.feature_index(p)).collect();
        assert_eq!(vgg16, [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]);
        let vgg19: Vec<usize> = (0..16).map(|p| VggNet::Vgg19.feature_index(p)).collect();
        assert_eq!(
            vgg19,
            [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
        );
    }

    #[test]
    fn names_pools_and_positions() {
        let net = VggNet::Vgg19;
        assert_eq!(net.layer_name(0), "relu1_1");
        assert_eq!(net.layer_name(7), "relu3_4");
        assert_eq!(net.layer_name(15), "relu5_4");
        assert_eq!(net.layer_position("relu4_2"), Some(9));
        assert_eq!(VggNet::Vgg16.layer_position("relu3_4"), None);
        assert_eq!(VggNet::Vgg16.layer_position("relu4_3"), Some(9));
        let pools: Vec<usize> = (0..16).filter(|&p| net.pool_after(p)).collect();
        assert_eq!(pools, [1, 3, 7, 11, 15]);
        let pools16: Vec<usize> = (0..13).filter(|&p| VggNet::Vgg16.pool_after(p)).collect();
        assert_eq!(pools16, [1, 3, 6, 9, 12]);
        assert_eq!(
            VggNet::Vgg16.layer_names(4),
            ["relu1_1", "relu1_2", "relu2_1", "relu2_2"]
        );
    }

    #[test]
    fn the_keys_tell_the_networks_apart() {
        assert_eq!(VggNet::from_keys(&["features.16.weight"]), VggNet::Vgg19);
        assert_eq!(
            VggNet::from_keys(&["features.0.weight", "features.21.weight"]),
            VggNet::Vgg16
        );
    }
}
