//! Train-date rows and the templates they open with. A template is stored
//! once in `train_templates`, keyed by the SHA-256 of its JSON, and each
//! train-date row names it by hash: 210,000 train-dates share about 14,000
//! templates, so repeating ~2 KB per row would cost ~400 MB of journal.

use crate::journal::{JournalError, StoredTrainDate, parse_stream_id, stream_id};
use crate::rows::{Value, sql_int};
use engine::domain::timetable::TrainTemplate;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// What one `insert_train_dates` writes: each distinct template once, then
/// the train-date rows naming them.
pub(crate) struct TrainDateRows {
    /// `(template_hash, body)`.
    pub templates: Vec<[Value<'static>; 2]>,
    /// `(train_date, train, service_date, template, template_hash, opened_at_ms)`.
    pub train_dates: Vec<[Value<'static>; 6]>,
}

impl TrainDateRows {
    pub(crate) fn of(train_dates: &[StoredTrainDate]) -> Self {
        let mut hashes: HashMap<&TrainTemplate, String> = HashMap::new();
        let mut rows = TrainDateRows { templates: Vec::new(), train_dates: Vec::with_capacity(train_dates.len()) };
        for train_date in train_dates {
            let hash = match hashes.get(&train_date.template) {
                Some(hash) => hash.clone(),
                None => {
                    let body = serde_json::to_string(&train_date.template).expect("templates always serialise");
                    let hash = template_hash(&body);
                    rows.templates.push([Value::Text(hash.clone().into()), Value::Text(body.into())]);
                    hashes.insert(&train_date.template, hash.clone());
                    hash
                }
            };
            rows.train_dates.push([
                Value::Text(stream_id(&train_date.key).into()),
                Value::Text(train_date.key.train.clone().into()),
                Value::Text(train_date.key.date.to_string().into()),
                Value::Text("".into()),
                Value::Text(hash.into()),
                Value::Int(sql_int(train_date.opened_at_ms)),
            ]);
        }
        rows
    }
}

/// Hex SHA-256 of a template's JSON: equal templates share a row, and no two
/// different ones can collide into the wrong train's seats.
pub(crate) fn template_hash(body: &str) -> String {
    Sha256::digest(body.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A `train_templates` row as fetched.
#[derive(sqlx::FromRow)]
pub(crate) struct TemplateRow {
    pub template_hash: String,
    pub body: String,
}

/// A `train_dates` row as fetched: `template` is the inline body of rows
/// written before the templates table, empty since.
#[derive(sqlx::FromRow)]
pub(crate) struct TrainDateRow {
    pub train_date: String,
    pub train: String,
    pub template: String,
    pub template_hash: Option<String>,
    pub opened_at_ms: u64,
}

/// Every fetched template, parsed once, by hash.
pub(crate) fn parse_templates(rows: Vec<TemplateRow>) -> Result<HashMap<String, TrainTemplate>, JournalError> {
    rows.into_iter()
        .map(|row| {
            let template = serde_json::from_str(&row.body)
                .map_err(|error| JournalError::Corrupt(format!("train_templates {}: {error}", row.template_hash)))?;
            Ok((row.template_hash, template))
        })
        .collect()
}

pub(crate) fn train_date(
    row: TrainDateRow,
    templates: &HashMap<String, TrainTemplate>,
) -> Result<StoredTrainDate, JournalError> {
    let corrupt = |reason: String| JournalError::Corrupt(format!("train_dates {}: {reason}", row.train_date));
    let key = parse_stream_id(&row.train_date).ok_or_else(|| corrupt("not a YYYY-MM-DD/TRAIN id".into()))?;
    if key.train != row.train {
        return Err(corrupt(format!("train column says {}", row.train)));
    }
    let template = match &row.template_hash {
        Some(hash) => templates.get(hash).cloned().ok_or_else(|| corrupt(format!("no template {hash}")))?,
        None => serde_json::from_str(&row.template).map_err(|error| corrupt(format!("template: {error}")))?,
    };
    Ok(StoredTrainDate { key, template, opened_at_ms: row.opened_at_ms })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, template: &str, hash: Option<&str>) -> TrainDateRow {
        TrainDateRow {
            train_date: id.into(),
            train: "G1".into(),
            template: template.into(),
            template_hash: hash.map(Into::into),
            opened_at_ms: 1,
        }
    }

    #[test]
    fn train_dates_with_bad_ids_templates_or_hashes_are_corrupt() {
        let none = HashMap::new();
        let bad_id = train_date(row("2026-13-01/G1", "{}", None), &none).unwrap_err().to_string();
        assert!(bad_id.contains("train_dates 2026-13-01/G1"), "{bad_id}");
        let bad_template = train_date(row("2026-12-01/G1", "{", None), &none).unwrap_err().to_string();
        assert!(bad_template.contains("template"), "{bad_template}");
        let missing = train_date(row("2026-12-01/G1", "", Some("ab12")), &none).unwrap_err().to_string();
        assert!(missing.contains("no template ab12"), "{missing}");
    }

    #[test]
    fn the_hash_is_sha256_hex() {
        assert_eq!(template_hash(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
