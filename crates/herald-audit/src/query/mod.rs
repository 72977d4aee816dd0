//! What a query asks for, independent of any store: the query-string parameters
//! ([`params`]), the filters ([`filter`]) and the page ([`page`]). The HTTP API and the CLI
//! both go through these, so they validate the same way and name the same parameters.

pub mod filter;
pub mod page;
pub mod params;

pub use filter::{EventFilter, TextQuery};
pub use page::{Direction, PageRequest};
pub use params::{ParamError, Params};
