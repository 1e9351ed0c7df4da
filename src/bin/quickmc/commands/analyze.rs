//! `stats --analyze`: memcstat's per-server summary (hit ratio, evictions,
//! memory fill), then the cluster as a whole.

use std::collections::BTreeMap;

use quickmc::Client;
use serde_json::json;

use super::cluster::tell_failures;
use crate::outcome::Outcome;
use crate::output::{self, Failure, percent, table, thousands};

/// What one server's general statistics say, as numbers.
#[derive(Default, Clone)]
struct Summary {
    items: u64,
    bytes: u64,
    limit: u64,
    hits: u64,
    misses: u64,
    evictions: u64,
    uptime: u64,
    connections: u64,
}

impl Summary {
    fn from_stats(stats: &BTreeMap<String, String>) -> Summary {
        // A statistic a server does not report counts as 0.
        let n = |name: &str| {
            stats
                .get(name)
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        Summary {
            items: n("curr_items"),
            bytes: n("bytes"),
            limit: n("limit_maxbytes"),
            hits: n("get_hits"),
            misses: n("get_misses"),
            evictions: n("evictions"),
            uptime: n("uptime"),
            connections: n("curr_connections"),
        }
    }

    fn add(&mut self, other: &Summary) {
        self.items += other.items;
        self.bytes += other.bytes;
        self.limit += other.limit;
        self.hits += other.hits;
        self.misses += other.misses;
        self.evictions += other.evictions;
        self.uptime = self.uptime.max(other.uptime);
        self.connections += other.connections;
    }

    /// Hits per lookup; none before the first lookup.
    fn hit_ratio(&self) -> Option<f64> {
        let lookups = self.hits + self.misses;
        (lookups > 0).then(|| self.hits as f64 / lookups as f64)
    }

    /// Memory used out of the limit.
    fn fill(&self) -> f64 {
        if self.limit == 0 {
            0.0
        } else {
            self.bytes as f64 / self.limit as f64
        }
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "items": self.items,
            "bytes": self.bytes,
            "limit_maxbytes": self.limit,
            "fill": self.fill(),
            "get_hits": self.hits,
            "get_misses": self.misses,
            "hit_ratio": self.hit_ratio(),
            "evictions": self.evictions,
            "uptime": self.uptime,
            "curr_connections": self.connections,
        })
    }

    fn row(&self, name: String) -> Vec<String> {
        vec![
            name,
            thousands(self.items),
            size(self.bytes),
            size(self.limit),
            percent(self.fill()),
            self.hit_ratio().map_or("-".into(), percent),
            thousands(self.evictions),
            format!("{} s", thousands(self.uptime)),
        ]
    }
}

/// 1536 → "1.5 KiB".
fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

pub fn analyze(client: &Client, json: bool) -> Result<Outcome, Failure> {
    let results = client.stats_per_server("");
    let failed = tell_failures(&results);
    let servers: Vec<(String, Summary)> = results
        .into_iter()
        .filter_map(|(s, r)| r.ok().map(|stats| (s, Summary::from_stats(&stats))))
        .collect();
    let mut cluster = Summary::default();
    for (_, summary) in &servers {
        cluster.add(summary);
    }
    let most_filled = servers
        .iter()
        .max_by(|a, b| a.1.fill().total_cmp(&b.1.fill()))
        .map(|(s, _)| s.clone());
    let average_item = cluster.bytes.checked_div(cluster.items);
    if json {
        let mut total = cluster.json();
        if let Some(map) = total.as_object_mut() {
            map.insert("servers".into(), json!(servers.len()));
            map.insert("average_item_bytes".into(), json!(average_item));
            map.insert("most_filled".into(), json!(most_filled));
        }
        let per_server: serde_json::Map<String, serde_json::Value> =
            servers.iter().map(|(s, m)| (s.clone(), m.json())).collect();
        output::json(&json!({"servers": per_server, "cluster": total}))?;
    } else {
        let mut rows = vec![
            [
                "server",
                "items",
                "used",
                "limit",
                "fill",
                "hit ratio",
                "evictions",
                "uptime",
            ]
            .map(String::from)
            .to_vec(),
        ];
        rows.extend(servers.iter().map(|(s, m)| m.row(s.clone())));
        let plural = if servers.len() == 1 { "" } else { "s" };
        rows.push(cluster.row(format!("cluster ({} server{plural})", servers.len())));
        table(&rows)?;
        if let (Some(average), Some(server)) = (average_item, most_filled) {
            say!("average item size {}; most filled: {server}", size(average));
        }
    }
    Ok(Outcome::from_all_ok(!failed))
}
