//! The networks and what they are trained with: the transform network and its layers, instance
//! norm as a layer, the VGG loss network (16 or 19), and the perceptual losses. Built from [`crate::ops`];
//! no device code here.

pub(crate) mod architecture;
pub(crate) mod channel_stats;
pub(crate) mod instance_norm;
pub(crate) mod layers;
pub mod loss;
pub(crate) mod loss_network;
pub(crate) mod norm_source;
pub(crate) mod preprocess;
pub(crate) mod style_bank;
pub(crate) mod tap_target;
pub(crate) mod transformer;
pub(crate) mod vgg;
pub(crate) mod vgg_layout;
