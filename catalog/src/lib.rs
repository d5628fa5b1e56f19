//! The accelerator catalog: what each cloud offers, where, and at what price.
//!
//! The data is derived from public price lists by `catalog/derive.py` into one small CSV per
//! cloud, compiled into the binary and parsed on first use. `HOIST_CATALOG_DIR` points at a
//! folder of replacement CSVs in the same format, so prices can be refreshed without a rebuild.

mod data;
mod names;
mod resolve;
mod tpu;

pub use data::{Catalog, CatalogError, Offering, CLOUDS};
pub use names::{canonical_name, parse_request, Request};
pub use resolve::{Choice, NoOffering};
pub use tpu::{tpu_slice, tpu_slices, TpuSlice};
