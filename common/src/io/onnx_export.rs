//! ONNX export of a model: the transform network as an ONNX graph with the model's weights as
//! initializers, so that other runtimes (onnxruntime, TensorRT, a browser) run a Fauve model
//! without Fauve. The graph is exactly [`crate::TransformerNet`]'s forward pass.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use candle_core::{DType, Tensor};
use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::tensor_shape_proto::{dimension, Dimension};
use onnx_protobuf::{
    type_proto, AttributeProto, GraphProto, Message, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

use crate::error::{Error, Result};
use crate::io::model_file::ModelFile;
use crate::ops::instance_norm::INSTANCE_NORM_EPS;

/// The opset the graph declares: the lowest with everything the network needs (Pad with its
/// pads as an input and `reflect` mode, Resize with an empty region of interest,
/// InstanceNormalization).
pub const ONNX_OPSET: i64 = 13;
/// The IR version that goes with opset 13.
const IR_VERSION: i64 = 7;

/// Name of the graph's input: `[N, 3, H, W]` RGB in 0..255, any N, H, W.
pub const ONNX_INPUT: &str = "input";
/// Name of a multi-style model's second input: `[N, n_styles]` style weights, one row per
/// image (one-hot for a style; weights summing to 1 for a mix, as `fauve-infer --mix` makes).
pub const ONNX_STYLE_INPUT: &str = "style_weights";
/// Name of the graph's output: `[N, 3, H', W']` RGB in 0..255, not clamped; H' and W' are H and
/// W rounded up to a multiple of 4 (crop to the input size, as `fauve-infer` does).
pub const ONNX_OUTPUT: &str = "output";

/// The model as ONNX protobuf bytes.
pub fn onnx_bytes(model: &ModelFile) -> Result<Vec<u8>> {
    let mut g = Graph::new(&model.tensors, model.metadata.n_styles());
    let mut x = g.conv("conv1", ONNX_INPUT, 1, false)?;
    x = g.norm("in1", &x, true)?;
    x = g.conv("conv2", &x, 2, false)?;
    x = g.norm("in2", &x, true)?;
    x = g.conv("conv3", &x, 2, false)?;
    x = g.norm("in3", &x, true)?;
    for i in 1..=5 {
        let r = format!("res{i}");
        let y = g.conv(&format!("{r}.conv1"), &x, 1, false)?;
        let y = g.norm(&format!("{r}.in1"), &y, true)?;
        let y = g.conv(&format!("{r}.conv2"), &y, 1, false)?;
        let y = g.norm(&format!("{r}.in2"), &y, false)?;
        x = g.node("Add", &[&y, &x], vec![]);
    }
    x = g.conv("deconv1", &x, 1, true)?;
    x = g.norm("in4", &x, true)?;
    x = g.conv("deconv2", &x, 1, true)?;
    x = g.norm("in5", &x, true)?;
    let last = g.conv("deconv3", &x, 1, false)?;
    g.nodes.push(NodeProto {
        input: vec![last],
        output: vec![ONNX_OUTPUT.into()],
        op_type: "Identity".into(),
        ..Default::default()
    });

    let mut props = vec![entry(
        "architecture",
        model.metadata.architecture.metadata_name(),
    )];
    if let Some(style) = &model.metadata.style_name {
        props.push(entry("style_name", style));
    }
    props.push(entry(
        "io",
        "input: [N,3,H,W] RGB 0..255; output: RGB 0..255, unclamped, H and W rounded up to a multiple of 4",
    ));
    let mut inputs = vec![image_value(ONNX_INPUT, "height", "width")];
    if g.styles > 1 {
        props.push(entry("styles", &model.metadata.style_names().join(",")));
        inputs.push(weights_value(g.styles));
    }
    let graph = GraphProto {
        node: g.nodes,
        name: "fauve".into(),
        initializer: g.initializers,
        input: inputs,
        output: vec![image_value(ONNX_OUTPUT, "out_height", "out_width")],
        ..Default::default()
    };
    let onnx = ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: ONNX_OPSET,
            ..Default::default()
        }],
        producer_name: "fauve".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        graph: Some(graph).into(),
        metadata_props: props,
        ..Default::default()
    };
    onnx.write_to_bytes()
        .map_err(|e| Error::Invalid(format!("cannot encode the ONNX model: {e}")))
}

/// Writes the model as an ONNX file at `path` (atomically).
pub fn save_onnx(model: &ModelFile, path: &Path) -> Result<()> {
    crate::atomic_write(path, &onnx_bytes(model)?)
}

/// The graph under construction: nodes in order, initializers, and names handed out.
struct Graph<'a> {
    tensors: &'a HashMap<String, Tensor>,
    /// How many styles the model holds (norm tables `[styles, C]` when more than one).
    styles: usize,
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    added: HashSet<String>,
    count: usize,
}

impl<'a> Graph<'a> {
    fn new(tensors: &'a HashMap<String, Tensor>, styles: usize) -> Self {
        Self {
            tensors,
            styles,
            nodes: Vec::new(),
            initializers: Vec::new(),
            added: HashSet::new(),
            count: 0,
        }
    }

    /// Appends `op` on `inputs`; returns the name of its output.
    fn node(&mut self, op: &str, inputs: &[&str], attribute: Vec<AttributeProto>) -> String {
        self.count += 1;
        let output = format!("{}_{}", op.to_lowercase(), self.count);
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.clone()],
            name: output.clone(),
            op_type: op.into(),
            attribute,
            ..Default::default()
        });
        output
    }

    /// Adds the initializer `name` (once: later calls with the same name add nothing).
    fn initializer(&mut self, name: &str, dims: &[usize], data_type: DataType, raw_data: Vec<u8>) {
        if self.added.insert(name.to_string()) {
            self.initializers.push(TensorProto {
                dims: dims.iter().map(|&d| d as i64).collect(),
                data_type: data_type as i32,
                name: name.into(),
                raw_data,
                ..Default::default()
            });
        }
    }

    /// The model tensor `key` as an f32 initializer of the same name, and its shape.
    fn weight(&mut self, key: &str) -> Result<(String, Vec<usize>)> {
        let t = self
            .tensors
            .get(key)
            .ok_or_else(|| Error::Invalid(format!("the model has no tensor `{key}`")))?;
        let dims = t.dims().to_vec();
        let values = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializer(key, &dims, DataType::FLOAT, raw);
        Ok((key.to_string(), dims))
    }

    /// A 1-D int64 constant named `name`.
    fn ints(&mut self, name: &str, values: &[i64]) -> String {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializer(name, &[values.len()], DataType::INT64, raw);
        name.to_string()
    }

    /// A 1-D f32 constant named `name`.
    fn floats(&mut self, name: &str, values: &[f32]) -> String {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializer(name, &[values.len()], DataType::FLOAT, raw);
        name.to_string()
    }

    /// `[upsample x2 nearest,] reflection pad, conv` of the layer `name` (pytorch/examples'
    /// ConvLayer and UpsampleConvLayer).
    fn conv(&mut self, name: &str, x: &str, stride: i64, upsample: bool) -> Result<String> {
        let (w, dims) = self.weight(&format!("{name}.conv2d.weight"))?;
        let (b, _) = self.weight(&format!("{name}.conv2d.bias"))?;
        let k = dims.get(2).copied().unwrap_or(1) as i64;
        let mut x = x.to_string();
        if upsample {
            let scales = self.floats("scales_x2", &[1.0, 1.0, 2.0, 2.0]);
            x = self.node(
                "Resize",
                &[&x, "", &scales],
                vec![
                    string_attr("mode", "nearest"),
                    string_attr("coordinate_transformation_mode", "asymmetric"),
                    string_attr("nearest_mode", "floor"),
                ],
            );
        }
        let p = k / 2;
        if p > 0 {
            let pads = self.ints(&format!("pads_{p}"), &[0, 0, p, p, 0, 0, p, p]);
            x = self.node("Pad", &[&x, &pads], vec![string_attr("mode", "reflect")]);
        }
        Ok(self.node(
            "Conv",
            &[&x, &w, &b],
            vec![
                ints_attr("kernel_shape", &[k, k]),
                ints_attr("strides", &[stride, stride]),
            ],
        ))
    }

    /// Instance norm `name` (scale and shift), optionally followed by ReLU. With several
    /// styles the scale and shift are the style weights times the norm's `[styles, C]` tables,
    /// applied after a plain instance norm.
    fn norm(&mut self, name: &str, x: &str, relu: bool) -> Result<String> {
        let (scale, dims) = self.weight(&format!("{name}.weight"))?;
        let (bias, _) = self.weight(&format!("{name}.bias"))?;
        let eps = vec![float_attr("epsilon", INSTANCE_NORM_EPS as f32)];
        let y = if self.styles > 1 {
            let c = dims.last().copied().unwrap_or(1);
            let ones = self.floats(&format!("ones_{c}"), &vec![1.0; c]);
            let zeros = self.floats(&format!("zeros_{c}"), &vec![0.0; c]);
            let plain = self.node("InstanceNormalization", &[x, &ones, &zeros], eps);
            let scale = self.per_image(&scale);
            let bias = self.per_image(&bias);
            let scaled = self.node("Mul", &[&plain, &scale], vec![]);
            self.node("Add", &[&scaled, &bias], vec![])
        } else {
            self.node("InstanceNormalization", &[x, &scale, &bias], eps)
        };
        Ok(if relu {
            self.node("Relu", &[&y], vec![])
        } else {
            y
        })
    }
}

impl Graph<'_> {
    /// `[N, C, 1, 1]`: each image's style weights times the `[styles, C]` table `table`.
    fn per_image(&mut self, table: &str) -> String {
        let rows = self.node("MatMul", &[ONNX_STYLE_INPUT, table], vec![]);
        let shape = self.ints("shape_n_c_1_1", &[0, -1, 1, 1]);
        self.node("Reshape", &[&rows, &shape], vec![])
    }
}

/// The `[batch, styles]` f32 style-weights input.
fn weights_value(styles: usize) -> ValueInfoProto {
    let shape = TensorShapeProto {
        dim: vec![
            dim(dimension::Value::DimParam("batch".into())),
            dim(dimension::Value::DimValue(styles as i64)),
        ],
        ..Default::default()
    };
    tensor_value(ONNX_STYLE_INPUT, shape)
}

fn entry(key: &str, value: &str) -> StringStringEntryProto {
    StringStringEntryProto {
        key: key.into(),
        value: value.into(),
        ..Default::default()
    }
}

fn string_attr(name: &str, value: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        type_: AttributeType::STRING.into(),
        s: value.as_bytes().to_vec(),
        ..Default::default()
    }
}

fn ints_attr(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        type_: AttributeType::INTS.into(),
        ints: values.to_vec(),
        ..Default::default()
    }
}

fn float_attr(name: &str, value: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        type_: AttributeType::FLOAT.into(),
        f: value,
        ..Default::default()
    }
}

/// An f32 image tensor `[batch, 3, height, width]` with named dynamic sizes.
fn image_value(name: &str, height: &str, width: &str) -> ValueInfoProto {
    let shape = TensorShapeProto {
        dim: vec![
            dim(dimension::Value::DimParam("batch".into())),
            dim(dimension::Value::DimValue(3)),
            dim(dimension::Value::DimParam(height.into())),
            dim(dimension::Value::DimParam(width.into())),
        ],
        ..Default::default()
    };
    tensor_value(name, shape)
}

/// One dimension of a tensor's shape.
fn dim(value: dimension::Value) -> Dimension {
    Dimension {
        value: Some(value),
        ..Default::default()
    }
}

/// An f32 tensor value named `name` of `shape`.
fn tensor_value(name: &str, shape: TensorShapeProto) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        type_: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: DataType::FLOAT as i32,
                shape: Some(shape).into(),
                ..Default::default()
            })),
            ..Default::default()
        })
        .into(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use candle_nn::{VarBuilder, VarMap};

    /// A model file's content with PyTorch-initialised weights.
    fn model() -> ModelFile {
        let varmap = VarMap::new();
        crate::TransformerNet::new(
            crate::Precision::F32,
            VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
        )
        .unwrap();
        let tensors = varmap
            .data()
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect();
        ModelFile {
            metadata: crate::ModelMetadata::new(Some("test".into()), None),
            tensors,
        }
    }

    #[test]
    fn the_graph_is_the_network_with_every_weight() {
        let m = model();
        let onnx = ModelProto::parse_from_bytes(&onnx_bytes(&m).unwrap()).unwrap();
        assert_eq!(onnx.opset_import[0].version, ONNX_OPSET);
        let g = onnx.graph.as_ref().unwrap();
        let count = |op: &str| g.node.iter().filter(|n| n.op_type == op).count();
        // 3 + 10 + 2 + 1 convs, each after a reflection pad (kernels 3 and 9), 15 norms (10 with
        // ReLU: all but the residual blocks' second), 5 residual adds, 2 upsamplings.
        assert_eq!(count("Conv"), 16);
        assert_eq!(count("Pad"), 16);
        assert_eq!(count("InstanceNormalization"), 15);
        assert_eq!(count("Relu"), 10);
        assert_eq!(count("Add"), 5);
        assert_eq!(count("Resize"), 2);
        // Every model tensor, with its values, plus the pads and scales constants.
        for (key, t) in &m.tensors {
            let init = g.initializer.iter().find(|i| &i.name == key).unwrap();
            let dims: Vec<i64> = t.dims().iter().map(|&d| d as i64).collect();
            assert_eq!(init.dims, dims, "{key}");
            let values: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
            let raw: Vec<f32> = init
                .raw_data
                .chunks(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            assert_eq!(raw, values, "{key}");
        }
        assert_eq!(g.initializer.len(), m.tensors.len() + 3);
        // Dynamic batch, height and width; the last node writes the output.
        let dims = |v: &ValueInfoProto| match &v.type_.value {
            Some(type_proto::Value::TensorType(t)) => t.shape.dim.clone(),
            _ => panic!("not a tensor"),
        };
        let input = dims(&g.input[0]);
        assert_eq!(g.input[0].name, ONNX_INPUT);
        assert_eq!(
            input[2].value,
            Some(dimension::Value::DimParam("height".into()))
        );
        assert_eq!(input[1].value, Some(dimension::Value::DimValue(3)));
        assert_eq!(g.node.last().unwrap().output[0], ONNX_OUTPUT);
    }

    #[test]
    fn a_multi_style_graph_takes_style_weights_and_mixes_the_norm_tables() {
        let mut m = model();
        for (name, c) in crate::Architecture::Johnson.norm_channels() {
            for suffix in [".weight", ".bias"] {
                let t = Tensor::ones((3, c), DType::F32, &Device::Cpu).unwrap();
                m.tensors.insert(format!("{name}{suffix}"), t);
            }
        }
        let entry = |n: &str| crate::StyleEntry {
            name: n.into(),
            style_image_sha256: None,
            source: None,
        };
        m.metadata =
            crate::ModelMetadata::multi(None, vec![entry("a"), entry("b"), entry("c")], None);
        let onnx = ModelProto::parse_from_bytes(&onnx_bytes(&m).unwrap()).unwrap();
        let g = onnx.graph.as_ref().unwrap();
        let count = |op: &str| g.node.iter().filter(|n| n.op_type == op).count();
        // Each of the 15 norms: a plain instance norm, its scale and shift from the weights.
        assert_eq!(count("InstanceNormalization"), 15);
        assert_eq!(count("MatMul"), 30);
        assert_eq!(count("Mul"), 15);
        assert_eq!(count("Add"), 5 + 15);
        assert_eq!(g.input.len(), 2);
        assert_eq!(g.input[1].name, ONNX_STYLE_INPUT);
        let Some(type_proto::Value::TensorType(t)) = &g.input[1].type_.value else {
            panic!("not a tensor");
        };
        assert_eq!(t.shape.dim[1].value, Some(dimension::Value::DimValue(3)));
        let styles = onnx
            .metadata_props
            .iter()
            .find(|p| p.key == "styles")
            .unwrap();
        assert_eq!(styles.value, "a,b,c");
    }

    #[test]
    fn a_missing_weight_is_named() {
        let mut m = model();
        m.tensors.remove("res3.in2.bias");
        let err = onnx_bytes(&m).unwrap_err().to_string();
        assert!(err.contains("res3.in2.bias"), "{err}");
    }
}
