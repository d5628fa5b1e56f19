//! What an EC2 instance type is, from its name alone: the processor architecture, the kind of
//! accelerator, and how many network cards carry EFA. EKS needs the right AMI type for each
//! (an NVIDIA type on the standard AMI has no driver; a Graviton type on an x86 AMI does not
//! boot), and the choice must not depend on how the blueprint wrote the pool.
//!
//! The rules follow EC2's naming scheme (family letters, generation digit, attribute letters,
//! `.size`): `g` among the attribute letters means Graviton (m7g, c7gn, g5g), `a1` is the first
//! Graviton. Accelerated families are listed by name, from the EC2 accelerated computing
//! instance pages. EFA network cards per type are from DescribeInstanceTypes
//! (`NetworkInfo.MaximumNetworkCards`).

/// The parts of an EC2 instance type name.
#[derive(Debug, PartialEq)]
struct TypeName<'a> {
    /// Family letters: `p`, `g`, `inf`, `trn`, `m`, `hpc`.
    series: &'a str,
    generation: u32,
    /// Letters after the generation: `d` in p4d, `gn` in c7gn.
    attributes: &'a str,
}

fn parse(instance_type: &str) -> Option<TypeName<'_>> {
    let family = instance_type.split('.').next()?;
    // `p6-b200` and `u-6tb1`: the part before `-` names the family.
    let family = family.split('-').next()?;
    let digits = family.find(|c: char| c.is_ascii_digit())?;
    let series = &family[..digits];
    let rest = &family[digits..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    Some(TypeName {
        series,
        generation: rest[..end].parse().ok()?,
        attributes: &rest[end..],
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86,
    Arm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accelerator {
    None,
    Nvidia,
    /// AWS Inferentia and Trainium.
    Neuron,
}

pub fn arch(instance_type: &str) -> Arch {
    match parse(instance_type) {
        Some(t) if t.series == "a" && t.generation == 1 => Arch::Arm,
        // `g` among the attributes is Graviton, except the `gd`-less GPU series' own letter.
        Some(t) if t.attributes.contains('g') => Arch::Arm,
        _ => Arch::X86,
    }
}

pub fn accelerator(instance_type: &str) -> Accelerator {
    let Some(t) = parse(instance_type) else {
        return Accelerator::None;
    };
    match t.series {
        "p" if t.generation >= 3 => Accelerator::Nvidia,
        // g4ad carries AMD Radeon GPUs, which the EKS GPU AMIs do not support.
        "g" if t.generation == 4 && t.attributes.starts_with("ad") => Accelerator::None,
        "g" if t.generation >= 4 => Accelerator::Nvidia,
        "gr" => Accelerator::Nvidia,
        "inf" | "trn" => Accelerator::Neuron,
        _ => Accelerator::None,
    }
}

/// The EKS AMI type for `instance_type` (Amazon Linux 2023 variants).
pub fn ami_type(instance_type: &str) -> &'static str {
    match (arch(instance_type), accelerator(instance_type)) {
        (Arch::X86, Accelerator::Nvidia) => "AL2023_x86_64_NVIDIA",
        (Arch::Arm, Accelerator::Nvidia) => "AL2023_ARM_64_NVIDIA",
        (_, Accelerator::Neuron) => "AL2023_x86_64_NEURON",
        (Arch::Arm, Accelerator::None) => "AL2023_ARM_64_STANDARD",
        (Arch::X86, Accelerator::None) => "AL2023_x86_64_STANDARD",
    }
}

/// Network cards of the multi-card types built for distributed training, each of which gets
/// an EFA interface. Other types get no EFA: one card gains nothing from it.
const EFA_CARDS: &[(&str, u32)] = &[
    ("p4d.24xlarge", 4),
    ("p4de.24xlarge", 4),
    ("p5.48xlarge", 32),
    ("p5e.48xlarge", 32),
    ("p5en.48xlarge", 16),
    ("p6-b200.48xlarge", 8),
    ("trn1.32xlarge", 8),
    ("trn1n.32xlarge", 16),
    ("trn2.48xlarge", 16),
];

/// EFA interfaces a node of `instance_type` should have (one per network card), if any.
pub fn efa_interfaces(instance_type: &str) -> Option<u32> {
    EFA_CARDS
        .iter()
        .find(|(t, _)| *t == instance_type)
        .map(|(_, n)| *n)
}

/// The node label value the cluster autoscaler reads as "this node has a GPU"
/// (`k8s.amazonaws.com/accelerator`), e.g. `nvidia-a100`.
pub fn gpu_label(accelerator_name: &str) -> String {
    format!("nvidia-{}", accelerator_name.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ami_type_follows_the_instance_type() {
        for (t, ami) in [
            ("g5.xlarge", "AL2023_x86_64_NVIDIA"),
            ("g6e.xlarge", "AL2023_x86_64_NVIDIA"),
            ("gr6.4xlarge", "AL2023_x86_64_NVIDIA"),
            ("p4d.24xlarge", "AL2023_x86_64_NVIDIA"),
            ("p5.48xlarge", "AL2023_x86_64_NVIDIA"),
            ("p6-b200.48xlarge", "AL2023_x86_64_NVIDIA"),
            ("g5g.xlarge", "AL2023_ARM_64_NVIDIA"),
            ("inf2.xlarge", "AL2023_x86_64_NEURON"),
            ("trn1.32xlarge", "AL2023_x86_64_NEURON"),
            ("m7g.large", "AL2023_ARM_64_STANDARD"),
            ("c7gn.xlarge", "AL2023_ARM_64_STANDARD"),
            ("im4gn.large", "AL2023_ARM_64_STANDARD"),
            ("a1.large", "AL2023_ARM_64_STANDARD"),
            ("m5.large", "AL2023_x86_64_STANDARD"),
            ("m7i-flex.large", "AL2023_x86_64_STANDARD"),
            ("g4ad.xlarge", "AL2023_x86_64_STANDARD"),
            ("x2iedn.xlarge", "AL2023_x86_64_STANDARD"),
        ] {
            assert_eq!(ami_type(t), ami, "{t}");
        }
    }

    #[test]
    fn efa_only_on_multi_card_training_types() {
        assert_eq!(efa_interfaces("p5.48xlarge"), Some(32));
        assert_eq!(efa_interfaces("p4d.24xlarge"), Some(4));
        assert_eq!(efa_interfaces("g5.xlarge"), None);
        assert_eq!(gpu_label("A100"), "nvidia-a100");
    }

    #[test]
    fn every_aws_catalog_gpu_type_gets_the_nvidia_ami() {
        // Catalog types are NVIDIA GPU types; the name rules must agree with the catalog.
        let catalog = include_str!("../../../catalog/data/aws.csv");
        for line in catalog.lines().skip(1) {
            let ty = line.split(',').next().unwrap();
            assert_eq!(accelerator(ty), Accelerator::Nvidia, "{ty}");
        }
    }
}
