//! `--help`: the cluster options apart, every argument described.

use super::*;

#[test]
fn help_groups_the_cluster_options_apart_and_describes_every_argument() {
    for command in [
        "get", "cat", "gets", "exists", "set", "add", "replace", "append", "prepend", "cas", "cp",
        "delete", "incr", "decr", "touch", "flush", "stats", "ping", "version", "ring", "bench",
        "demo",
    ] {
        let o = bin().args([command, "--help"]).output().unwrap();
        let help = stdout(&o);
        assert!(o.status.success(), "{command}");
        let heading = help
            .find("Cluster options:")
            .unwrap_or_else(|| panic!("{command}: no cluster heading\n{help}"));
        let servers = help.find("--servers <").expect("--servers");
        assert!(
            servers > heading,
            "{command}: --servers outside its group\n{help}"
        );
        assert!(
            !help[..heading].contains("--retry-timeout"),
            "{command}: cluster options mixed with its own\n{help}"
        );
        if let Some(start) = help.find("Arguments:") {
            // The section's indented lines: an argument's name, then its
            // description on the same line or the next ones.
            let section: Vec<&str> = help[start..]
                .lines()
                .skip(1)
                .take_while(|l| l.is_empty() || l.starts_with(' '))
                .map(str::trim)
                .collect();
            for (i, line) in section.iter().enumerate() {
                if !(line.starts_with('<') || line.starts_with('[')) {
                    continue;
                }
                let same_line = line.split_once("  ").map(|(_, d)| d.trim()).unwrap_or("");
                let next_line = section.get(i + 1).copied().unwrap_or("");
                let described = !same_line.is_empty()
                    || !(next_line.is_empty()
                        || next_line.starts_with('<')
                        || next_line.starts_with('['));
                assert!(described, "{command}: {line:?} has no description\n{help}");
            }
        }
    }
    let bench = stdout(&bin().args(["bench", "--help"]).output().unwrap());
    assert_eq!(
        bench.matches("Connections per server").count(),
        1,
        "{bench}"
    );
}
