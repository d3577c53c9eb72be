//! `unstuck list`: what the registries offer.

use crate::cli::{ListArgs, ListWhat};
use crate::error::Result;
use unstuck::data::GENERATOR_NAMES;
use unstuck::models::{Activation, Loss, ModelRegistry};
use unstuck::optim::{Registry, SCHEDULE_KINDS};

pub(crate) fn run(args: ListArgs) -> Result<()> {
    let all = [
        ListWhat::Optimizers,
        ListWhat::Schedules,
        ListWhat::Datasets,
        ListWhat::Activations,
        ListWhat::Layers,
        ListWhat::Losses,
    ];
    let chosen: Vec<ListWhat> = match args.what {
        Some(what) => vec![what],
        None => all.to_vec(),
    };
    let mut out = String::new();
    for (i, what) in chosen.into_iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&section(what));
    }
    print!("{out}");
    Ok(())
}

fn section(what: ListWhat) -> String {
    let mut out = String::new();
    match what {
        ListWhat::Optimizers => {
            out.push_str("Optimizers (--optim name:key=value,...):\n");
            for entry in Registry::<f64>::builtin().entries() {
                out.push_str(&format!("  {:<16} {}\n", entry.name, entry.help()));
            }
        }
        ListWhat::Schedules => {
            out.push_str("Schedules (--schedule name:key=value,...):\n");
            for kind in SCHEDULE_KINDS {
                out.push_str(&format!("  {:<16} {}\n", kind.name, kind.help()));
            }
        }
        ListWhat::Datasets => {
            out.push_str("Datasets (DATA):\n");
            out.push_str("  digits           UCI handwritten digits: 1797 1x8x8 images (64 features), 10 classes (bundled).\n");
            out.push_str("  breast-cancer    UCI breast cancer Wisconsin: 569 rows, 30 features, 2 classes (bundled).\n");
            out.push_str(&format!(
                "  synthetic specs  name:key=value,... with name one of: {GENERATOR_NAMES} (e.g. spirals:n=1000,noise=0.2; every classification generator takes label_noise=<fraction>).\n"
            ));
            out.push_str("  FILE.csv         numeric CSV; --label COL picks the label column (default: the last).\n");
            out.push_str("  IMAGES --labels LABELS   IDX files (MNIST format, plain or gzip); images keep their 1xHxW shape.\n");
            out.push_str("  FILE.safetensors tensors x (float32/64, [N, ...], each example keeps its shape) and y (int64/int32 class\n");
            out.push_str("                   labels [N], or float32/64 targets [N] or [N, K]): a batch saved with safetensors.torch.save_file.\n");
        }
        ListWhat::Activations => {
            out.push_str("Activations (--model widths:activation):\n");
            for name in Activation::NAMES {
                let note = if name == "leaky_relu" {
                    " (or leaky_relu(<slope>))"
                } else {
                    ""
                };
                out.push_str(&format!("  {name}{note}\n"));
            }
        }
        ListWhat::Layers => {
            out.push_str("Layers (--model INPUT/layer-layer-..., e.g. 1x8x8/conv(4,k=3,pad=1)-tanh-maxpool(2)-flatten-linear(10)):\n");
            out.push_str("  INPUT is one example's shape (1x8x8 images, 16 features, 5 token ids); a layer is [name=]kind[(args)],\n");
            out.push_str("  name= sets its state_dict prefix (_ for none, default its position); residual(layers) adds x to layers(x).\n");
            for entry in ModelRegistry::builtin().layers() {
                out.push_str(&format!("  {:<16} {}\n", entry.name, entry.help()));
            }
        }
        ListWhat::Losses => {
            out.push_str("Losses (chosen from the data and the output width):\n");
            for loss in Loss::ALL {
                let when = match loss {
                    Loss::CrossEntropy => "class labels, one output per class",
                    Loss::BinaryCrossEntropyWithLogits => "two classes, one output",
                    Loss::Mse => "real targets (--regression)",
                };
                out.push_str(&format!("  {:<16} {when}\n", loss.name()));
            }
        }
    }
    out
}
