//! The change `ooauth2 setup` makes to the config file, shown as a unified
//! diff of lines: `-` removed, `+` added, two lines of context around each
//! change. Made for small files and one changed table: the lines both
//! versions share at the start and the end are set aside first, and what
//! is left is compared line by line (longest common subsequence).

use ooauth2::error::printable;

/// Lines of context around each change.
const CONTEXT: usize = 2;
/// Beyond this many line pairs the middle is shown as removed, then added.
const MAX_CELLS: usize = 4_000_000;

/// One line of the diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op<'a> {
    Same(&'a str),
    Gone(&'a str),
    Added(&'a str),
}

/// The diff of `old` and `new`, headed by `label` (the file), with colour
/// when `styled`; empty when they hold the same lines.
pub fn unified(old: &str, new: &str, label: &str, styled: bool) -> String {
    let ops = ops(old, new);
    if ops.iter().all(|o| matches!(o, Op::Same(_))) {
        return String::new();
    }
    let mut out = format!("--- {label}\n+++ {label} (new)\n");
    let (mut a, mut b) = (1, 1);
    let mut i = 0;
    while i < ops.len() {
        let Some(first) = (i..ops.len()).find(|&k| !matches!(ops[k], Op::Same(_))) else {
            break;
        };
        let start = first.saturating_sub(CONTEXT).max(i);
        let end = hunk_end(&ops, first);
        for op in &ops[i..start] {
            if let Op::Same(_) = op {
                a += 1;
                b += 1;
            }
        }
        out.push_str(&hunk(&ops[start..end], a, b, styled));
        for op in &ops[start..end] {
            match op {
                Op::Same(_) => (a, b) = (a + 1, b + 1),
                Op::Gone(_) => a += 1,
                Op::Added(_) => b += 1,
            }
        }
        i = end;
    }
    out
}

/// Where the hunk that has its first change at `first` ends: after the
/// context that follows its last change (changes closer than twice the
/// context join one hunk).
fn hunk_end(ops: &[Op], first: usize) -> usize {
    let mut last = first;
    let mut k = first + 1;
    while k < ops.len() {
        if !matches!(ops[k], Op::Same(_)) {
            last = k;
        } else if k - last > 2 * CONTEXT {
            break;
        }
        k += 1;
    }
    (last + 1 + CONTEXT).min(ops.len())
}

/// One hunk, its old lines from `a` and its new ones from `b`.
fn hunk(ops: &[Op], a: usize, b: usize, styled: bool) -> String {
    let olds = ops.iter().filter(|o| !matches!(o, Op::Added(_))).count();
    let news = ops.iter().filter(|o| !matches!(o, Op::Gone(_))).count();
    // An empty side is numbered from the line before it, as diff(1) does.
    let a = if olds == 0 { a - 1 } else { a };
    let b = if news == 0 { b - 1 } else { b };
    let mut out = format!("@@ -{a},{olds} +{b},{news} @@\n");
    for op in ops {
        let (mark, line, colour) = match op {
            Op::Same(l) => (' ', l, ""),
            Op::Gone(l) => ('-', l, "\x1b[31m"),
            Op::Added(l) => ('+', l, "\x1b[32m"),
        };
        // The user's file may hold anything: no escape reaches the terminal.
        let line = printable(line);
        if styled && !colour.is_empty() {
            out.push_str(&format!("{colour}{mark}{line}\x1b[0m\n"));
        } else {
            out.push_str(&format!("{mark}{line}\n"));
        }
    }
    out
}

/// Every line of `old` and `new` as kept, removed or added.
fn ops<'a>(old: &'a str, new: &'a str) -> Vec<Op<'a>> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let head = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let tail = a[head..]
        .iter()
        .rev()
        .zip(b[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (mid_a, mid_b) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    let mut ops: Vec<Op> = a[..head].iter().map(|l| Op::Same(l)).collect();
    ops.extend(middle(mid_a, mid_b));
    ops.extend(a[a.len() - tail..].iter().map(|l| Op::Same(l)));
    ops
}

/// The lines between the shared start and end, by longest common subsequence.
fn middle<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<Op<'a>> {
    if a.len().saturating_mul(b.len()) > MAX_CELLS {
        let gone = a.iter().map(|l| Op::Gone(l));
        return gone.chain(b.iter().map(|l| Op::Added(l))).collect();
    }
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::new();
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push(Op::Same(a[i]));
            (i, j) = (i + 1, j + 1);
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            // Removed lines before the added ones that replace them.
            ops.push(Op::Gone(a[i]));
            i += 1;
        } else {
            ops.push(Op::Added(b[j]));
            j += 1;
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_only_the_changed_table_with_context() {
        let old = "# top\n[accounts.a]\nclient_id = \"a\"\n\n[accounts.w]\nclient_id = \"old\"\nuser = \"u\"\n\n[accounts.z]\nclient_id = \"z\"\n";
        let new = "# top\n[accounts.a]\nclient_id = \"a\"\n\n[accounts.w]\nclient_id = \"new\"\nuser = \"u\"\n\n[accounts.z]\nclient_id = \"z\"\n";
        assert_eq!(
            unified(old, new, "c.toml", false),
            "--- c.toml\n+++ c.toml (new)\n@@ -4,5 +4,5 @@\n \n [accounts.w]\n\
             -client_id = \"old\"\n+client_id = \"new\"\n user = \"u\"\n \n"
        );
        assert_eq!(unified(old, old, "c.toml", false), "");
    }

    #[test]
    fn a_new_file_is_all_added_and_escapes_are_not_shown() {
        let d = unified("", "[accounts.w]\nuser = \"\x1b[2J\"\n", "c", true);
        assert!(d.contains("@@ -0,0 +1,2 @@"), "{d}");
        assert!(d.contains("\x1b[32m+[accounts.w]\x1b[0m"), "{d}");
        assert!(!d.contains("\x1b[2J"), "{d}");
    }

    #[test]
    fn far_apart_changes_are_two_hunks() {
        let old: String = (0..20).map(|i| format!("l{i}\n")).collect();
        let new = old.replace("l2\n", "x\n").replace("l15\n", "y\n");
        let d = unified(&old, &new, "c", false);
        assert_eq!(d.matches("@@ -").count(), 2, "{d}");
        assert!(d.contains("-l2\n+x\n") && d.contains("-l15\n+y\n"), "{d}");
    }
}
