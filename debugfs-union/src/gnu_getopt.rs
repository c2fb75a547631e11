//! getopt as glibc's works inside debugfs requests: options may follow
//! operands (the arguments are permuted), `--` ends them, and a bad
//! option or a missing value is reported on stderr under the request's
//! name and handed back as `'?'` for the request to judge (some go on,
//! as debugfs' switch statements without a default case do).

/// Options (letter, value; `'?'` for a bad one) in order, then the
/// operands.
pub fn getopt(args: &[String], spec: &str) -> (Vec<(char, String)>, Vec<String>) {
    let prog = args.first().map(String::as_str).unwrap_or("");
    let (mut opts, mut rest) = (Vec::new(), Vec::new());
    let mut words = args.iter().skip(1);
    while let Some(word) = words.next() {
        if word == "--" {
            rest.extend(words.by_ref().cloned());
        } else if word.len() < 2 || !word.starts_with('-') {
            rest.push(word.clone());
        } else {
            let letters: Vec<char> = word[1..].chars().collect();
            for (j, &c) in letters.iter().enumerate() {
                let at = spec.find(c).filter(|_| c != ':');
                let Some(at) = at else {
                    eprintln!("{prog}: invalid option -- '{c}'");
                    opts.push(('?', String::new()));
                    continue;
                };
                if !spec[at + c.len_utf8()..].starts_with(':') {
                    opts.push((c, String::new()));
                    continue;
                }
                // A value: the rest of this word, else the next word.
                let tail: String = letters[j + 1..].iter().collect();
                if !tail.is_empty() {
                    opts.push((c, tail));
                } else if let Some(v) = words.next() {
                    opts.push((c, v.clone()));
                } else {
                    eprintln!("{prog}: option requires an argument -- '{c}'");
                    opts.push(('?', String::new()));
                }
                break;
            }
        }
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
        let (o, r) = getopt(&v(&["x", "f", "-v", "-c", "5", "-c7", "--", "-d"]), "vc:");
        assert_eq!(
            o,
            vec![('v', String::new()), ('c', "5".into()), ('c', "7".into())]
        );
        assert_eq!(r, v(&["f", "-d"]));
        let (o, _) = getopt(&v(&["x", "-q", "-c"]), "vc:");
        assert_eq!(o, vec![('?', String::new()), ('?', String::new())]);
    }
}
