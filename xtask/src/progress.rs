//! Progress for long runs: a bar on a terminal, plain lines otherwise (CI logs).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use lava_builder::{Artefact, Progress, Step};

pub struct Reporter {
    bar: Option<ProgressBar>,
}

impl Reporter {
    pub fn new(steps: usize) -> Reporter {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(steps as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{pos}/{len}] {elapsed_precise} {wide_msg}",
                )
                .expect("valid template"),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        Reporter { bar }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Reporter {
    fn started(&self, step: &Step) {
        match &self.bar {
            Some(bar) => bar.set_message(format!("building {step}")),
            None => eprintln!("building {step}"),
        }
    }

    fn finished(&self, _step: &Step, artefacts: &[Artefact]) {
        for a in artefacts {
            let line = format!("built {} ({} bytes)", a.key, a.size);
            match &self.bar {
                Some(bar) => bar.println(line),
                None => eprintln!("{line}"),
            }
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }
}
