//! Model files made from scratch: safetensors headers over the transform network's real
//! tensor names with random dtypes, shapes and offsets (consistent or not), random Fauve
//! metadata, and data of a random length.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

const DTYPES: [&str; 9] = [
    "F32", "F16", "BF16", "F64", "I64", "U8", "BOOL", "F8_E4M3", "Q4",
];
const DIMS: [usize; 7] = [0, 1, 3, 9, 32, 128, 1 << 40];

/// One generated model file.
pub fn model_file(rng: &mut ChaCha8Rng) -> Vec<u8> {
    // Half of them shaped as a two-style model ([2, C] norm tables).
    let styles = if rng.random_bool(0.5) { 2 } else { 1 };
    // Half of them with the slim network's widths.
    let architecture = fauve::Architecture::ALL[rng.random_range(0..2)];
    let names = architecture.parameter_shapes(styles);
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), metadata(rng));
    let mut offset = 0usize;
    for (name, shape) in &names {
        if rng.random_bool(0.05) {
            continue;
        }
        let dtype = if rng.random_bool(0.8) {
            "F32"
        } else {
            DTYPES[rng.random_range(0..DTYPES.len())]
        };
        let shape: Vec<usize> = if rng.random_bool(0.8) {
            shape.clone()
        } else {
            (0..rng.random_range(0..5))
                .map(|_| DIMS[rng.random_range(0..DIMS.len())])
                .collect()
        };
        let bytes = shape
            .iter()
            .product::<usize>()
            .saturating_mul(4)
            .min(1 << 26);
        let (start, end) = if rng.random_bool(0.9) {
            (offset, offset + bytes)
        } else {
            (rng.random_range(0..1 << 30), rng.random_range(0..1 << 30))
        };
        offset = end.max(offset);
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [start, end]}),
        );
    }
    let json = serde_json::Value::Object(header).to_string();
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(json.as_bytes());
    let data = if rng.random_bool(0.8) {
        offset.min(1 << 26)
    } else {
        rng.random_range(0..1 << 16)
    };
    out.resize(out.len() + data, 0);
    out
}

/// Fauve's metadata keys with values that are right, wrong, or garbage.
fn metadata(rng: &mut ChaCha8Rng) -> serde_json::Value {
    let pick = |rng: &mut ChaCha8Rng, options: &[&str]| {
        options[rng.random_range(0..options.len())].to_string()
    };
    let mut m = serde_json::Map::new();
    let keys: [(&str, &[&str]); 6] = [
        ("format", &["fauve-style-model", "fauve", ""]),
        (
            "format_version",
            &["1", "2", "999", "-1", "x", "18446744073709551616"],
        ),
        (
            "architecture",
            &[
                "johnson2016-transformer-net",
                "johnson2016-transformer-net-slim",
                "slim",
                "",
            ],
        ),
        ("style_name", &["starry", "", "../../etc/passwd", "a\u{0}b"]),
        (
            "training",
            &[
                "{}",
                "{\"config\": {\"steps\": 3}}",
                "[",
                "null",
                "{\"config\": 5}",
            ],
        ),
        (
            "styles",
            &[
                "[{\"name\": \"a\"}, {\"name\": \"b\"}]",
                "[{\"name\": \"a\"}]",
                "[{\"name\": \"a\"}, {\"name\": \"a\"}]",
                "[]",
                "{",
                "[{\"name\": 3}]",
            ],
        ),
    ];
    for (key, values) in keys {
        if rng.random_bool(0.8) {
            m.insert(key.into(), pick(rng, values).into());
        }
    }
    serde_json::Value::Object(m)
}
