//! The parts of a Distributed Map (`"Mode": "DISTRIBUTED"`): where its items
//! come from (`ItemReader`), how they are grouped (`ItemBatcher`) and where
//! its results go (`ResultWriter`). AWS: "Using Map state in Distributed
//! mode", "ItemReader (Map)", "ItemBatcher (Map)", "ResultWriter (Map)".

use serde::{Deserialize, Serialize};

use super::{Dynamic, Shape};

/// How a Map runs its iterations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MapMode {
    /// In the execution that runs the Map (the default).
    #[default]
    Inline,
    /// Each iteration is a child execution of its own.
    Distributed { execution_type: ExecutionType },
}

/// The kind of the child executions of a Distributed Map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecutionType {
    #[default]
    Standard,
    Express,
}

impl ExecutionType {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionType::Standard => "STANDARD",
            ExecutionType::Express => "EXPRESS",
        }
    }
}

/// `ItemReader`: the items of a Distributed Map read from a bucket.
#[derive(Debug, Clone)]
pub struct ItemReader {
    pub source: ReaderSource,
    /// `Parameters` (JSONPath) or `Arguments` (JSONata): `Bucket` and `Key`
    /// for one object, `Bucket` and `Prefix` for a listing.
    pub parameters: Option<Shape>,
    /// `ReaderConfig.MaxItems` / `MaxItemsPath`: read at most this many.
    pub max_items: Option<Dynamic<u64>>,
}

/// What an `ItemReader` reads (its `Resource`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReaderSource {
    /// `arn:aws:states:::s3:getObject`: the items in one object.
    Object(ReaderFormat),
    /// `arn:aws:states:::s3:listObjectsV2`: one item per object under a prefix.
    Listing,
}

/// `ReaderConfig.InputType` of an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReaderFormat {
    /// A JSON array; each element is an item.
    Json,
    /// JSON Lines: each line is an item.
    JsonLines,
    /// CSV: each row is an item, an object of the header's names to the
    /// row's values (all strings).
    Csv { headers: CsvHeaders, delimiter: u8 },
}

/// `CSVHeaderLocation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CsvHeaders {
    /// The first row names the columns.
    FirstRow,
    /// `CSVHeaders` names them; every row is data.
    Given(Vec<String>),
}

/// `ItemBatcher`: iterations take batches of items, `{"Items": […],
/// "BatchInput": …}`.
#[derive(Debug, Clone)]
pub struct ItemBatcher {
    pub max_items_per_batch: Option<Dynamic<u64>>,
    pub max_input_bytes_per_batch: Option<Dynamic<u64>>,
    /// `BatchInput`: added to every batch.
    pub batch_input: Option<Shape>,
}

/// `ResultWriter`: the results of the child executions are written to a
/// bucket instead of becoming the Map's output.
#[derive(Debug, Clone)]
pub struct ResultWriter {
    /// `Parameters` / `Arguments`: `Bucket` and `Prefix`.
    pub parameters: Option<Shape>,
}
