//! getopt as glibc's works inside debugfs requests: options may follow
//! operands (the arguments are permuted), `--` ends them, and a bad
//! option or a missing value is reported on stderr under the request's
//! name and handed back as `'?'` for the request to judge (some go on,
//! as debugfs' switch statements without a default case do).

/// Options (letter, value; `'?'` for a bad one) in order, then the
/// operands.
pub fn getopt(args: &[String], spec: &str) -> (Vec<(char, String)>, Vec<String>) {
    let prog = args.first().map(String::as_str).unwrap_or("");
    let mut opts = Vec::new();
    let mut rest = Vec::new();
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            rest.extend(args[i + 1..].iter().cloned());
            break;
        }
        if a.len() < 2 || !a.starts_with('-') {
            rest.push(a.clone());
            i += 1;
            continue;
        }
        let chars: Vec<char> = a[1..].chars().collect();
        let mut j = 0;
        while j < chars.len() {
            let c = chars[j];
            let pos = (c != ':').then(|| spec.find(c)).flatten();
            let Some(pos) = pos else {
                eprintln!("{prog}: invalid option -- '{c}'");
                opts.push(('?', String::new()));
                j += 1;
                continue;
            };
            if !spec[pos + c.len_utf8()..].starts_with(':') {
                opts.push((c, String::new()));
                j += 1;
                continue;
            }
            let tail: String = chars[j + 1..].iter().collect();
            if !tail.is_empty() {
                opts.push((c, tail));
            } else if let Some(v) = args.get(i + 1) {
                opts.push((c, v.clone()));
                i += 1;
            } else {
                eprintln!("{prog}: option requires an argument -- '{c}'");
                opts.push(('?', String::new()));
            }
            break;
        }
        i += 1;
    }
    (opts, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn permutes_and_reports() {
        let (o, r) = getopt(&v(&["x", "f", "-v", "-c", "5", "--", "-d"]), "vc:");
        assert_eq!(o, vec![('v', String::new()), ('c', "5".into())]);
        assert_eq!(r, v(&["f", "-d"]));
        let (o, _) = getopt(&v(&["x", "-q", "-c"]), "vc:");
        assert_eq!(o, vec![('?', String::new()), ('?', String::new())]);
    }
}
