//! Multi-key operations (quiet batches).

/// Placeholder until the batch operations land.
#[derive(Debug, Clone, Default)]
pub struct BatchReport;

/// Placeholder until the batch operations land.
#[derive(Debug, Clone)]
pub struct StoreFailure;
