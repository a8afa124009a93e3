//! The TensorBoard event files of a training run, read back record by record (TFRecord framing
//! with masked CRC-32C, then the Event protobuf): the expected tags are there, and the sample
//! image is the right size and the same picture as the PNG written beside it.

use std::path::Path;

use protobuf::Message;
use tensorboard_proto::event::Event;

use crate::{setup, text, train};

fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn masked(data: &[u8]) -> u32 {
    let c = crc32c(data);
    (c.rotate_right(15)).wrapping_add(0xa282_ead8)
}

fn read_events(path: &Path) -> Vec<Event> {
    let bytes = std::fs::read(path).unwrap();
    let mut events = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len_bytes = &bytes[at..at + 8];
        let len = u64::from_le_bytes(len_bytes.try_into().unwrap()) as usize;
        let len_crc = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap());
        assert_eq!(len_crc, masked(len_bytes), "length CRC");
        let data = &bytes[at + 12..at + 12 + len];
        let data_crc = u32::from_le_bytes(bytes[at + 12 + len..at + 16 + len].try_into().unwrap());
        assert_eq!(data_crc, masked(data), "data CRC");
        events.push(Event::parse_from_bytes(data).expect("an Event"));
        at += 16 + len;
    }
    events
}

#[test]
fn event_files_hold_losses_rates_and_a_faithful_sample_image() -> anyhow::Result<()> {
    let s = setup(4);
    let run = s.run_dir("run");
    let mut args = s.args(&run, 5);
    // A non-square sample photo catches the crate's width/height trap.
    let sample = s.dir.path().join("sample.png");
    fauve::image::DynamicImage::ImageRgb8(fauve_tests::test_photo(44, 28)).save(&sample)?;
    args.extend(["--sample-image".into(), sample.display().to_string()]);
    args.extend(["--eval-dir".into(), s.photos.display().to_string()]);
    args.extend(["--eval-every".into(), "3".into()]);
    let o = train(&args, &[]);
    assert!(o.status.success(), "{}", text(&o));

    let files: Vec<_> = std::fs::read_dir(run.join("tb"))?
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let events = read_events(&files[0]);
    let mut tags = std::collections::BTreeSet::new();
    let mut image = None;
    let mut eval_steps = Vec::new();
    for e in &events {
        for v in e.get_summary().get_value() {
            tags.insert(v.get_tag().to_string());
            if v.get_tag() == "eval/total" {
                eval_steps.push(e.get_step());
            }
            if v.has_image() {
                image = Some((e.get_step(), v.get_image().clone()));
            }
        }
    }
    for tag in [
        "loss/content",
        "loss/style",
        "loss/total",
        "perf/images_per_sec",
        "train/lr",
        "sample",
        "eval/content",
        "eval/style",
        "eval/total",
    ] {
        assert!(tags.contains(tag), "{tag} missing from {tags:?}");
    }
    // The validation curve: every eval_every steps and at the end.
    assert_eq!(eval_steps, [3, 5]);
    let (step, img) = image.expect("a sample image");
    assert_eq!(step, 5);
    // The picture TensorBoard shows is the encoded PNG. (tensorboard-rs 0.5.9 swaps the
    // proto's width/height fields when given the [3, W, H] dims that keep the PNG right.)
    let decoded = fauve::image::load_from_memory(img.get_encoded_image_string())?.to_rgb8();
    let png = fauve::load_image(&run.join("samples/step-00000005.png"))?.to_rgb8();
    assert_eq!(decoded.dimensions(), (44, 28));
    assert_eq!(decoded, png, "TensorBoard image equals the sample PNG");
    Ok(())
}

#[test]
fn training_survives_an_unwritable_tensorboard_folder() -> anyhow::Result<()> {
    let s = setup(3);
    let run = s.run_dir("run");
    std::fs::create_dir_all(&run)?;
    std::fs::write(run.join("tb"), "a file where the folder should be")?;
    let o = train(&s.args(&run, 3), &[]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("TensorBoard logging off"), "{t}");
    assert!(run.join("model.safetensors").exists());
    Ok(())
}
