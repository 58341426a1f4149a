//! The one model of the lava code area: every key under `s3://<bucket>/<prefix>/`
//! (and under `dist/`, which mirrors it), the names of the artefacts that live
//! there, and the runtime triple (os, Python, arch) a worker bundle is built for.
//!
//! dist, deploy, boot and ami all format and parse names through this crate, so
//! a name that one of them writes is always a name the others can read.

mod ami;
mod area;
mod names;
mod runtime;
mod sums;
mod version;

pub use ami::{
    oracle_manifest_key, python_of_full_version, AmiName, AmiNameError, BuildTime, OracleDownload,
    OracleVersion,
};
pub use area::{
    boot_binary_key, boot_copy_key, boot_script_key, cfn_dir, cfn_doc_key, cfn_folder_release,
    cfn_html_key, cfn_key, cfn_keys, content_type, framework_key, has_sums, lambda_dir, lambda_key,
    oracle_key, pkg_dir, pkg_key, root_boot_key, AMI_DIR, BOOT_DIST_DIR, BOOT_PREFIX,
    ORACLE_PREFIX, ROOT_BOOT_SCRIPTS,
};
pub use area::{Component, CFN_PREFIX, FRAMEWORK_PREFIX, LAMBDA_PREFIX, PKG_PREFIX, SHA256SUMS};
pub use names::{
    cli_name, framework_name, release_of, CfnTemplate, LambdaFunction, NameError, OraclePackage,
    PackageName,
};
pub use runtime::{Arch, Os, PythonVersion, Runtime, RuntimeError};
pub use sums::Sums;
pub use version::Version;
