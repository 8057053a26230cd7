//! The reply without what it quotes, for providers that give no `stripped-text` (SendGrid, raw MIME).

/// Drops quoted lines (`>` first, after any indentation) and the attribution line before a quoted block
/// (`On <date>, <name> wrote:`, also when a mail client wrapped it over two lines), then the white space
/// left at the end. Everything else stays, in order: an inline answer between quotes keeps its lines.
pub(crate) fn strip_quoted(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let quoted = |line: &str| line.trim_start().starts_with('>');
    // The next line that is not blank is a quote.
    let quote_follows = |from: usize| {
        lines[from..]
            .iter()
            .find(|line| !line.trim().is_empty())
            .is_some_and(|line| quoted(line))
    };
    let mut kept = Vec::with_capacity(lines.len());
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        let trimmed = line.trim();
        if quoted(line) {
            index += 1;
            continue;
        }
        if trimmed.starts_with("On ") {
            if trimmed.ends_with("wrote:") && quote_follows(index + 1) {
                index += 1;
                continue;
            }
            let next = lines.get(index + 1).map(|next| next.trim());
            if next.is_some_and(|next| next.ends_with("wrote:") && !next.starts_with('>'))
                && quote_follows(index + 2)
            {
                index += 2;
                continue;
            }
        }
        kept.push(line);
        index += 1;
    }
    let mut out = kept.join("\n");
    out.truncate(out.trim_end().len());
    out
}
