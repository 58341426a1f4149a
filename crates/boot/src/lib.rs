//! What a booting lava worker does, as a library: choose the bundle for this
//! platform from the code area and the realms table, and (in later modules)
//! install it and start the worker daemons.

pub mod select;
pub mod settings;

pub use select::{select, Reason, SelectError, Selection, Skipped};
pub use settings::{Daemon, SettingsError, WorkerSettings};
