//! scripts/setup.sh and scripts/demo.sh, run with stand-in commands.

use super::*;

/// A directory of stand-in commands for the scripts' tests: each logs how
/// it was called; `sudo` marks what it runs as run by root.
fn stub_commands(names: &[&str]) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = support::temp_dir("stubs");
    let log = dir.join("log");
    let mut stubs: Vec<(String, String)> = names
        .iter()
        .map(|n| {
            (
                n.to_string(),
                format!("echo \"{n} $*\" >> {}\n", log.display()),
            )
        })
        .collect();
    stubs.push(("id".into(), "echo 1000\n".into()));
    // setup.sh runs `sudo env DEBIAN_FRONTEND=noninteractive apt-get ...`.
    stubs.push(("env".into(), "exec /usr/bin/env \"$@\"\n".into()));
    stubs.push((
        "sudo".into(),
        format!(
            // Like sudo, the environment is reset.
            "echo \"sudo $*\" >> {}\nexec /usr/bin/env -i PATH=\"$PATH\" AS=root \"$@\"\n",
            log.display()
        ),
    ));
    stubs.push((
        "apt-get".into(),
        format!(
            "echo \"apt-get $* as ${{AS:-user}}\" >> {log}\necho \"frontend ${{DEBIAN_FRONTEND:-unset}}\" >> {log}\nfor a in \"$@\"; do\n  [ \"$a\" = curl ] && printf '#!/bin/sh\\n' > {dir}/curl && /bin/chmod +x {dir}/curl\ndone\nexit 0\n",
            log = log.display(),
            dir = dir.display()
        ),
    ));
    for (name, body) in stubs {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

fn script(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

#[test]
fn setup_installs_curl_and_a_missing_c_compiler_with_sudo_when_not_root() {
    // cargo present, no C compiler: zstd-sys would not build.
    let stubs = stub_commands(&["memcached", "cargo"]);
    let home = support::temp_dir("home");
    let o = Command::new("/bin/bash")
        .arg(script("setup.sh"))
        .env("PATH", &stubs)
        .env("HOME", &home)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let log = std::fs::read_to_string(stubs.join("log")).unwrap_or_default();
    assert!(
        log.lines().any(|l| l.starts_with("apt-get install")
            && l.contains("build-essential")
            && l.ends_with("as root")),
        "{log}"
    );

    // No cargo, no curl, no C compiler, not root: every apt-get runs under sudo.
    let stubs = stub_commands(&["memcached", "sh"]);
    let o = Command::new("/bin/bash")
        .arg(script("setup.sh"))
        .env("PATH", &stubs)
        .env("HOME", &home)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let log = std::fs::read_to_string(stubs.join("log")).unwrap_or_default();
    let apt: Vec<&str> = log.lines().filter(|l| l.starts_with("apt-get")).collect();
    assert!(apt.iter().any(|l| l.contains("curl")), "{log}");
    assert!(apt.iter().any(|l| l.contains("build-essential")), "{log}");
    assert!(apt.iter().all(|l| l.ends_with("as root")), "{log}");
    // The frontend setting gets through sudo (it resets the environment).
    let install_frontend = log
        .lines()
        .skip_while(|l| !l.starts_with("apt-get install"))
        .nth(1);
    assert_eq!(install_frontend, Some("frontend noninteractive"), "{log}");
}

#[test]
fn demo_script_says_what_it_is_doing_while_cargo_builds() {
    let stubs = stub_commands(&["cargo"]);
    let home = support::temp_dir("home");
    let o = Command::new("/bin/bash")
        .arg(script("demo.sh"))
        .env("PATH", format!("{}:/usr/bin:/bin", stubs.display()))
        .env("HOME", &home)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let said = format!("{}{}", stdout(&o), stderr(&o));
    assert!(said.to_lowercase().contains("building"), "{said}");
    let log = std::fs::read_to_string(stubs.join("log")).unwrap();
    let cargo = log
        .lines()
        .find(|l| l.starts_with("cargo"))
        .expect("cargo ran");
    assert!(
        !cargo.split(' ').any(|a| a == "--quiet" || a == "-q"),
        "cargo's progress is hidden: {cargo}"
    );
}
