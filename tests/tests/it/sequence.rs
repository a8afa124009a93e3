//! Video frames through `Stylizer::sequence` against frame-by-frame stylization, with the
//! shipped model, on a noisy pan made from a generated photo.

use fauve::image::DynamicImage;
use fauve::{StyleOptions, Stylizer, VideoOptions};
use fauve_tests::{pan_flicker, panning_frames, shipped_model, test_device, textured_photo};

fn stylizer() -> Stylizer {
    Stylizer::load(shipped_model(), &test_device()).expect("the shipped model loads")
}

fn per_frame(s: &Stylizer, frames: &[fauve::image::RgbImage]) -> Vec<fauve::image::RgbImage> {
    frames
        .iter()
        .map(|f| s.stylize(&DynamicImage::ImageRgb8(f.clone())).unwrap())
        .collect()
}

fn sequence(
    s: &Stylizer,
    frames: &[fauve::image::RgbImage],
    video: VideoOptions,
) -> Vec<fauve::image::RgbImage> {
    let mut seq = s.sequence(StyleOptions::default(), video).unwrap();
    frames
        .iter()
        .map(|f| seq.stylize(&DynamicImage::ImageRgb8(f.clone())).unwrap())
        .collect()
}

/// Issue 14's measure: on a camera panning 2 pixels a frame with sensor noise, consecutive
/// outputs differ (after undoing the pan) by at most half as much as frame-by-frame
/// stylization's; the grid alignment alone already does it, and odd frame sizes come back at
/// their own size.
#[test]
fn a_noisy_pan_flickers_at_most_half_as_much_as_frame_by_frame() {
    let s = stylizer();
    let photo = textured_photo(150, 70);
    let frames = panning_frames(&photo, 121, 8, 2, 3.0);
    let alone = pan_flicker(&per_frame(&s, &frames), 2);
    let ours = sequence(&s, &frames, VideoOptions::default());
    assert!(ours.iter().all(|f| f.dimensions() == (121, 70)));
    let tied = pan_flicker(&ours, 2);
    let aligned_only = VideoOptions {
        blend: 0.0,
        ..VideoOptions::default()
    };
    let aligned = pan_flicker(&sequence(&s, &frames, aligned_only), 2);
    eprintln!("flicker: frame by frame {alone:.3}, aligned {aligned:.3}, defaults {tied:.3}");
    assert!(tied <= 0.5 * alone, "{tied} vs {alone}");
    assert!(aligned <= 0.5 * alone, "{aligned} vs {alone}");
    assert!(
        tied < aligned,
        "mixing in the previous frame steadies the noise"
    );
}

/// A still camera: only noise changes, and the tied frames change less than frame-by-frame
/// ones; the first frame of a sequence is the frame stylized alone (nothing to tie it to yet).
#[test]
fn a_still_noisy_camera_stays_steadier_than_frame_by_frame() {
    let s = stylizer();
    let photo = textured_photo(96, 64);
    let frames = panning_frames(&photo, 96, 5, 0, 3.0);
    let alone = per_frame(&s, &frames);
    let ours = sequence(&s, &frames, VideoOptions::default());
    assert_eq!(ours[0], alone[0]);
    let (a, b) = (pan_flicker(&alone, 0), pan_flicker(&ours, 0));
    eprintln!("still camera flicker: frame by frame {a:.3}, tied {b:.3}");
    assert!(b <= 0.75 * a, "{b} vs {a}");
}

/// A cut to another scene carries nothing over: the first frame after it is that frame
/// stylized alone, as the first frame of a sequence is.
#[test]
fn a_cut_starts_afresh() {
    let s = stylizer();
    let photo = textured_photo(96, 64);
    let mut other = photo.clone();
    fauve::image::imageops::invert(&mut other);
    let mut frames = panning_frames(&photo, 80, 3, 2, 3.0);
    frames.extend(panning_frames(&other, 80, 2, 2, 3.0));
    let alone = per_frame(&s, &frames);
    let ours = sequence(&s, &frames, VideoOptions::default());
    assert_eq!(ours[0], alone[0]);
    assert_ne!(ours[2], alone[2], "frames of one scene are tied together");
    assert_eq!(ours[3], alone[3], "the cut");
    assert_ne!(ours[4], alone[4]);
}
