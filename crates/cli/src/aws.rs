//! What every command that reaches AWS shares: the `-e ENV -f FILE`
//! arguments and how they become an environment, and the async runtime.

use std::future::Future;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use lava_config::{Config, Environment, Substitution};
use lava_layout::Version;
use lava_store::Location;

use crate::{Context, Failure};

/// Whose account and which locations: an environment of the deploy
/// configuration. A command that can do without one says so with a required
/// `ArgGroup` naming `environment` and its alternative.
#[derive(Args)]
pub struct EnvArgs {
    /// Environment: a top-level key of the deploy configuration (its
    /// account_id and locations).
    #[arg(short = 'e', long = "env", value_name = "ENV")]
    pub environment: Option<String>,
    /// Deploy configuration, relative to the current directory (format:
    /// deploy/sample.yaml).
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        default_value = "deploy.yaml"
    )]
    pub file: PathBuf,
}

impl EnvArgs {
    /// The configuration and environment `-e`, its locations' `${version}`
    /// standing for `version`.
    pub fn load(&self, version: &Version) -> Result<(Config, Environment), Failure> {
        let name = self
            .environment
            .as_deref()
            .expect("clap's ArgGroup requires -e here");
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        let config = Config::load(&cwd.join(&self.file))?;
        let env_var = |name: &str| std::env::var(name).ok();
        let env = config.environment(
            name,
            &Substitution {
                version,
                env: &env_var,
            },
        )?;
        Ok((config, env))
    }

    /// The environment `-e` for the release, and its code area (where
    /// workers find their bundles): what status, pin and prune read.
    pub fn code_area(&self, ctx: &Context) -> Result<(Environment, Location), Failure> {
        let release = ctx.release()?;
        let (_, env) = self.load(&release.version)?;
        let area = env.code_area(&release.version)?;
        Ok((env, area))
    }
}

/// Run `work` on a multi-threaded runtime.
pub fn block_on<F: Future>(work: F) -> Result<F::Output, Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(runtime.block_on(work))
}
