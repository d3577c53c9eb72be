//! A small CSV reader for numeric tables: features plus one label or target column.
//!
//! Hand-written so every error can name its 1-based line and column. It accepts an
//! optional header, a UTF-8 byte-order mark, `\r\n` line ends, blank lines (skipped),
//! fields padded with spaces, and double-quoted fields (with `""` for a quote, no
//! line breaks inside).

use std::borrow::Cow;
use std::path::Path;

use crate::dataset::Dataset;
use crate::error::{CsvErrorKind, DataError, Result};
use unstuck_core::Element;
use unstuck_core::Targets;

/// Which column holds the label or target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// 0-based column index.
    Index(usize),
    /// Column name, looked up in the header.
    Name(String),
    /// The last column.
    Last,
}

/// What the label column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvTask {
    /// Integer class labels `0..n_classes`; `None` infers `n_classes` as the largest
    /// label plus one.
    Classification {
        /// The class count, if known.
        n_classes: Option<usize>,
    },
    /// One real target per row.
    Regression,
}

/// How to read a CSV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// The first non-blank line holds column names.
    pub has_header: bool,
    /// Field separator, e.g. `','`, `';'` or `'\t'`.
    pub delimiter: char,
    /// The label or target column; every other column is a feature.
    pub label: Column,
    /// Classification or regression.
    pub task: CsvTask,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            has_header: false,
            delimiter: ',',
            label: Column::Last,
            task: CsvTask::Classification { n_classes: None },
        }
    }
}

/// Reads a CSV file (see [`parse_csv`]).
pub fn load_csv<T: Element>(path: impl AsRef<Path>, options: &CsvOptions) -> Result<Dataset<T>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_csv(&bytes, options)
}

/// Parses CSV bytes into a dataset.
///
/// ```
/// use unstuck_data::{parse_csv, Column, CsvOptions, CsvTask, DataError, CsvErrorKind};
/// let text = "x,y,class\n0.5,1.0,1\n-2,3e-1,0\n";
/// let options = CsvOptions {
///     has_header: true,
///     label: Column::Name("class".into()),
///     ..CsvOptions::default()
/// };
/// let data = parse_csv::<f64>(text.as_bytes(), &options)?;
/// assert_eq!(data.features(), &[0.5, 1.0, -2.0, 0.3]);
/// assert_eq!(data.labels(), Some(&[1, 0][..]));
///
/// let bad = parse_csv::<f64>(b"1,2,0\n1,oops,1\n", &CsvOptions::default());
/// assert!(matches!(
///     bad,
///     Err(DataError::Csv { line: 2, column: 2, kind: CsvErrorKind::NotANumber { .. } })
/// ));
/// # Ok::<(), DataError>(())
/// ```
pub fn parse_csv<T: Element>(bytes: &[u8], options: &CsvOptions) -> Result<Dataset<T>> {
    let text = decode_utf8(bytes, options.delimiter)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .enumerate()
        .map(|(index, line)| (index + 1, line))
        .filter(|(_, line)| !line.trim().is_empty());
    let mut fields = Vec::new();

    let mut header = None;
    if options.has_header
        && let Some((line_number, line)) = lines.next()
    {
        split_fields(line, options.delimiter, &mut fields)
            .map_err(|column| csv_error(line_number, column, CsvErrorKind::UnterminatedQuote))?;
        let names: Vec<String> = fields.iter().map(|field| field.to_string()).collect();
        header = Some((line_number, names));
    }

    let mut reader = RowReader::<T>::new(options);
    let mut last_line = 0;
    for (line_number, line) in lines {
        last_line = line_number;
        split_fields(line, options.delimiter, &mut fields)
            .map_err(|column| csv_error(line_number, column, CsvErrorKind::UnterminatedQuote))?;
        reader.push_row(line_number, &fields, header.as_ref())?;
    }
    let line_after = last_line.max(header.as_ref().map_or(0, |(line, _)| *line)) + 1;
    reader.finish(line_after)
}

/// Accumulates parsed rows; the first row fixes the field count and the label column.
struct RowReader<'o, T> {
    options: &'o CsvOptions,
    n_fields: usize,
    label_column: usize,
    features: Vec<T>,
    labels: Vec<usize>,
    values: Vec<T>,
}

impl<'o, T: Element> RowReader<'o, T> {
    fn new(options: &'o CsvOptions) -> Self {
        Self {
            options,
            n_fields: 0,
            label_column: 0,
            features: Vec::new(),
            labels: Vec::new(),
            values: Vec::new(),
        }
    }

    fn push_row(
        &mut self,
        line: usize,
        fields: &[Cow<'_, str>],
        header: Option<&(usize, Vec<String>)>,
    ) -> Result<()> {
        if self.n_fields == 0 {
            self.start(line, fields.len(), header)?;
        }
        if fields.len() != self.n_fields {
            return Err(csv_error(
                line,
                fields.len().min(self.n_fields) + 1,
                CsvErrorKind::Ragged {
                    expected: self.n_fields,
                    got: fields.len(),
                },
            ));
        }
        for (index, field) in fields.iter().enumerate() {
            let column = index + 1;
            if index != self.label_column {
                self.features
                    .push(T::from_f64(parse_number(field, line, column)?));
                continue;
            }
            match self.options.task {
                CsvTask::Regression => {
                    self.values
                        .push(T::from_f64(parse_number(field, line, column)?));
                }
                CsvTask::Classification { n_classes } => {
                    self.labels
                        .push(parse_label(field, n_classes, line, column)?);
                }
            }
        }
        Ok(())
    }

    /// Fixes the field count and resolves the label column from the first data row.
    fn start(
        &mut self,
        line: usize,
        n_fields: usize,
        header: Option<&(usize, Vec<String>)>,
    ) -> Result<()> {
        if n_fields < 2 {
            return Err(csv_error(
                line,
                1,
                CsvErrorKind::TooFewFields { got: n_fields },
            ));
        }
        self.n_fields = n_fields;
        self.label_column = match &self.options.label {
            Column::Last => n_fields - 1,
            Column::Index(index) if *index < n_fields => *index,
            Column::Index(index) => {
                return Err(csv_error(
                    line,
                    n_fields,
                    CsvErrorKind::ColumnOutOfRange {
                        index: *index,
                        n_fields,
                    },
                ));
            }
            Column::Name(name) => {
                let Some((header_line, names)) = header else {
                    return Err(csv_error(line, 1, CsvErrorKind::NameWithoutHeader));
                };
                match names.iter().position(|candidate| candidate == name) {
                    Some(index) if index < n_fields => index,
                    Some(index) => {
                        return Err(csv_error(
                            line,
                            n_fields,
                            CsvErrorKind::ColumnOutOfRange { index, n_fields },
                        ));
                    }
                    None => {
                        return Err(csv_error(
                            *header_line,
                            1,
                            CsvErrorKind::UnknownColumn { name: name.clone() },
                        ));
                    }
                }
            }
        };
        Ok(())
    }

    fn finish(self, line_after: usize) -> Result<Dataset<T>> {
        if self.n_fields == 0 {
            return Err(csv_error(line_after, 1, CsvErrorKind::NoRows));
        }
        let targets = match self.options.task {
            CsvTask::Regression => Targets::Real {
                values: self.values,
                n_outputs: 1,
            },
            CsvTask::Classification { n_classes } => {
                let inferred = self.labels.iter().max().map_or(1, |max| max + 1);
                Targets::Classes {
                    labels: self.labels,
                    n_classes: n_classes.unwrap_or(inferred),
                }
            }
        };
        Dataset::new(self.features, self.n_fields - 1, targets)
    }
}

fn csv_error(line: usize, column: usize, kind: CsvErrorKind) -> DataError {
    DataError::Csv { line, column, kind }
}

/// Checks UTF-8; on failure names the line and field where the bad byte is.
fn decode_utf8(bytes: &[u8], delimiter: char) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|error| {
        let valid = &bytes[..error.valid_up_to()];
        let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        // The valid prefix is UTF-8, so this lossless view counts delimiters correctly.
        let prefix = String::from_utf8_lossy(&valid[line_start..]);
        csv_error(
            valid.iter().filter(|&&b| b == b'\n').count() + 1,
            prefix.matches(delimiter).count() + 1,
            CsvErrorKind::InvalidUtf8,
        )
    })
}

/// Splits one line into trimmed, unquoted fields. On an unterminated quote returns
/// the 1-based column where the quoted field starts.
fn split_fields<'a>(
    line: &'a str,
    delimiter: char,
    fields: &mut Vec<Cow<'a, str>>,
) -> std::result::Result<(), usize> {
    fields.clear();
    let mut rest = line;
    loop {
        if let Some(quoted) = rest.trim_start().strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut closing = None;
            while let Some((position, c)) = chars.next() {
                if c != '"' {
                    value.push(c);
                } else if quoted[position + 1..].starts_with('"') {
                    value.push('"');
                    chars.next();
                } else {
                    closing = Some(position + 1);
                    break;
                }
            }
            let Some(closing) = closing else {
                return Err(fields.len() + 1);
            };
            let after = &quoted[closing..];
            let (tail, next) = match after.find(delimiter) {
                Some(p) => (&after[..p], Some(&after[p + delimiter.len_utf8()..])),
                None => (after, None),
            };
            value.push_str(tail.trim());
            fields.push(Cow::Owned(value));
            match next {
                Some(next) => rest = next,
                None => return Ok(()),
            }
        } else {
            match rest.find(delimiter) {
                Some(p) => {
                    fields.push(Cow::Borrowed(rest[..p].trim()));
                    rest = &rest[p + delimiter.len_utf8()..];
                }
                None => {
                    fields.push(Cow::Borrowed(rest.trim()));
                    return Ok(());
                }
            }
        }
    }
}

fn parse_number(field: &str, line: usize, column: usize) -> Result<f64> {
    let value: f64 = field.parse().map_err(|_| {
        csv_error(
            line,
            column,
            CsvErrorKind::NotANumber {
                field: field.to_string(),
            },
        )
    })?;
    if !value.is_finite() {
        return Err(csv_error(
            line,
            column,
            CsvErrorKind::NonFinite {
                field: field.to_string(),
            },
        ));
    }
    Ok(value)
}

fn parse_label(field: &str, n_classes: Option<usize>, line: usize, column: usize) -> Result<usize> {
    let bad = |detail: String| {
        csv_error(
            line,
            column,
            CsvErrorKind::BadLabel {
                field: field.to_string(),
                detail,
            },
        )
    };
    let value: f64 = field.parse().map_err(|_| bad(String::new()))?;
    // Labels beyond u32 would mean billions of classes: certainly a wrong column.
    if !(0.0..=f64::from(u32::MAX)).contains(&value) || value.fract() != 0.0 {
        return Err(bad(" (expected a non-negative integer)".into()));
    }
    let label = value as usize;
    match n_classes {
        Some(n_classes) if label >= n_classes => {
            Err(bad(format!(" (must be below {n_classes} classes)")))
        }
        _ => Ok(label),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_error(
        text: &[u8],
        options: &CsvOptions,
        line: usize,
        column: usize,
        kind: CsvErrorKind,
    ) {
        match parse_csv::<f64>(text, options) {
            Err(DataError::Csv {
                line: got_line,
                column: got_column,
                kind: got_kind,
            }) => assert_eq!((got_line, got_column, got_kind), (line, column, kind)),
            other => panic!("expected a CSV error, got {other:?}"),
        }
    }

    #[test]
    fn splits_quoted_and_padded_fields() {
        let mut fields = Vec::new();
        split_fields(r#" 1 ,"a,""b""" , 2"#, ',', &mut fields).unwrap();
        assert_eq!(fields, vec!["1", r#"a,"b""#, "2"]);
        assert_eq!(split_fields(r#"1,"open"#, ',', &mut fields), Err(2));
    }

    #[test]
    fn regression_header_crlf_bom_blank_lines_and_label_index() {
        let text = "\u{feff}target;a;b\r\n\r\n2.5;1;2\r\n-1;3;4\r\n";
        let options = CsvOptions {
            has_header: true,
            delimiter: ';',
            label: Column::Index(0),
            task: CsvTask::Regression,
        };
        let data = parse_csv::<f32>(text.as_bytes(), &options).unwrap();
        assert_eq!(data.features(), &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(
            data.targets(),
            &Targets::Real {
                values: vec![2.5, -1.0],
                n_outputs: 1
            }
        );
    }

    #[test]
    fn each_malformed_input_names_line_and_column() {
        let default = CsvOptions::default();
        check_error(
            b"1,2,0\n3,4\n",
            &default,
            2,
            3,
            CsvErrorKind::Ragged {
                expected: 3,
                got: 2,
            },
        );
        check_error(
            b"1,2,0\n3,4,1,9\n",
            &default,
            2,
            4,
            CsvErrorKind::Ragged {
                expected: 3,
                got: 4,
            },
        );
        check_error(
            b"1,x,0\n",
            &default,
            1,
            2,
            CsvErrorKind::NotANumber { field: "x".into() },
        );
        check_error(
            b"1,,0\n",
            &default,
            1,
            2,
            CsvErrorKind::NotANumber {
                field: String::new(),
            },
        );
        check_error(
            b"1,2,0\nNaN,2,0\n",
            &default,
            2,
            1,
            CsvErrorKind::NonFinite {
                field: "NaN".into(),
            },
        );
        check_error(
            b"1,inf,0\n",
            &default,
            1,
            2,
            CsvErrorKind::NonFinite {
                field: "inf".into(),
            },
        );
        check_error(
            b"1,2,-1\n",
            &default,
            1,
            3,
            CsvErrorKind::BadLabel {
                field: "-1".into(),
                detail: " (expected a non-negative integer)".into(),
            },
        );
        check_error(b"", &default, 1, 1, CsvErrorKind::NoRows);
        check_error(b"\n\n", &default, 1, 1, CsvErrorKind::NoRows);
        check_error(
            b"5\n",
            &default,
            1,
            1,
            CsvErrorKind::TooFewFields { got: 1 },
        );
        check_error(b"1,2\n\xff,1\n", &default, 2, 1, CsvErrorKind::InvalidUtf8);
        check_error(
            b"1,\"2,0\n",
            &default,
            1,
            2,
            CsvErrorKind::UnterminatedQuote,
        );
        let header = CsvOptions {
            has_header: true,
            label: Column::Name("label".into()),
            ..CsvOptions::default()
        };
        check_error(b"a,b\n", &header, 2, 1, CsvErrorKind::NoRows);
        check_error(
            b"a,b\n1,2\n",
            &header,
            1,
            1,
            CsvErrorKind::UnknownColumn {
                name: "label".into(),
            },
        );
        let no_header = CsvOptions {
            label: Column::Name("label".into()),
            ..CsvOptions::default()
        };
        check_error(b"1,2\n", &no_header, 1, 1, CsvErrorKind::NameWithoutHeader);
        let known_classes = CsvOptions {
            task: CsvTask::Classification { n_classes: Some(2) },
            label: Column::Index(7),
            ..CsvOptions::default()
        };
        check_error(
            b"1,2\n",
            &known_classes,
            1,
            2,
            CsvErrorKind::ColumnOutOfRange {
                index: 7,
                n_fields: 2,
            },
        );
    }

    #[test]
    fn labels_above_the_given_class_count_are_rejected() {
        let options = CsvOptions {
            task: CsvTask::Classification { n_classes: Some(2) },
            ..CsvOptions::default()
        };
        assert!(parse_csv::<f64>(b"1,1.0\n", &options).is_ok());
        assert!(matches!(
            parse_csv::<f64>(b"1,1\n2,2\n", &options),
            Err(DataError::Csv {
                line: 2,
                column: 2,
                kind: CsvErrorKind::BadLabel { .. }
            })
        ));
    }
}
