//! The statement of `resweep query`, read before polars runs it, so that what goes wrong
//! is said in SQL's words.
//!
//! - Only queries run (`SELECT`, `WITH … SELECT`, `VALUES`, set operations): a statement
//!   that would change data (`DROP`, `INSERT`, `DELETE`, `CREATE`, …) is refused, and so
//!   is any other (`SHOW`, `EXPLAIN`, `SET`).
//! - One statement at a time.
//! - Result columns are named as SQL writes them: an unaliased expression is named by
//!   its text (`avg(final_eval_loss)`, `count(*)`), where polars would name it after its
//!   first column (`final_eval_loss`, `len`). Two qualified columns of the same name
//!   (`r.seed, s.seed`) are named in full; any other clash is explained (use `AS`).
//! - Syntax errors are one line with the line and column.
//! - A result whose rows have no order of their own (`GROUP BY`, `DISTINCT` or a set
//!   operation, with neither `ORDER BY` nor `LIMIT`/`OFFSET`/`FETCH`) is put in natural
//!   order ([`natural_order`]); every other result keeps the order polars gives it (a
//!   plain `SELECT … FROM runs` keeps the table's: by run id, naturally).

use sqlparser::ast::{
    Expr, GroupByExpr, Ident, OrderBy, OrderByKind, Query, SelectItem, SetExpr, Statement,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserError, ParserOptions};

/// The statement to give polars (the input, or it with honest column names), or the
/// one-line reason it cannot run.
pub fn prepare(sql: &str) -> Result<String, String> {
    let statements = Parser::new(&GenericDialect)
        .with_options(ParserOptions::new().with_trailing_commas(true))
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(syntax_error)?;
    let mut statement = match statements.len() {
        0 => return Err("empty query: write a statement such as SELECT * FROM runs".into()),
        1 => statements.into_iter().next().expect("one statement"),
        n => {
            return Err(format!(
                "{n} statements: resweep query runs one at a time (drop the `;` and what follows)"
            ))
        }
    };
    let Statement::Query(query) = &mut statement else {
        return Err(refusal(sql, &statement));
    };
    let SetExpr::Select(select) = query.body.as_mut() else {
        return Ok(sql.to_string());
    };
    let mut changed = name_columns(&mut select.projection)?;
    // polars orders by result columns: `ORDER BY avg(x)` where the result names avg(x)
    // must say that name.
    let named: Vec<(String, Ident)> = select
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::ExprWithAlias { expr, alias } => Some((expr.to_string(), alias.clone())),
            _ => None,
        })
        .collect();
    if let Some(OrderBy {
        kind: OrderByKind::Expressions(exprs),
        ..
    }) = &mut query.order_by
    {
        for e in exprs.iter_mut() {
            let text = e.expr.to_string();
            if let Some((_, alias)) = named.iter().find(|(t, _)| *t == text) {
                e.expr = Expr::Identifier(alias.clone());
                changed = true;
            }
        }
    }
    Ok(if changed {
        statement.to_string()
    } else {
        sql.to_string()
    })
}

/// Whether the result of `sql` (a statement [`prepare`] accepted) should be sorted by
/// its columns in natural order: its rows have no order of their own (`GROUP BY`,
/// `DISTINCT`, `UNION` and the other set operations: polars returns them in whatever
/// order its threads finished) and the query orders nothing itself (no `ORDER BY`). A
/// query with `LIMIT`, `OFFSET` or `FETCH` but no `ORDER BY` is left alone: sorting after
/// the limit would dress up an arbitrary choice of rows.
pub fn natural_order(sql: &str) -> bool {
    let Ok(statements) = Parser::new(&GenericDialect)
        .with_options(ParserOptions::new().with_trailing_commas(true))
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
    else {
        return false;
    };
    match statements.as_slice() {
        [Statement::Query(q)] => unordered(q),
        _ => false,
    }
}

/// A query whose rows have no order of their own and that asks for none.
fn unordered(q: &Query) -> bool {
    if q.order_by.is_some() || q.limit_clause.is_some() || q.fetch.is_some() {
        return false;
    }
    match q.body.as_ref() {
        SetExpr::Select(select) => {
            let grouped = match &select.group_by {
                GroupByExpr::All(_) => true,
                GroupByExpr::Expressions(exprs, _) => !exprs.is_empty(),
            };
            grouped || select.distinct.is_some()
        }
        SetExpr::SetOperation { .. } => true,
        SetExpr::Query(inner) => unordered(inner),
        _ => false,
    }
}

/// The first keywords of a statement (`DROP TABLE`, `INSERT INTO`), upper case.
fn keywords(sql: &str) -> String {
    sql.split_whitespace()
        .take_while(|w| w.chars().all(|c| c.is_ascii_alphabetic()))
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase()
}

fn refusal(sql: &str, statement: &Statement) -> String {
    let changes = matches!(
        statement,
        Statement::Insert(_)
            | Statement::Update(_)
            | Statement::Delete(_)
            | Statement::Merge(_)
            | Statement::Truncate(_)
            | Statement::Drop { .. }
            | Statement::CreateTable(_)
            | Statement::CreateView(_)
            | Statement::AlterTable(_)
            | Statement::Copy { .. }
    ) || matches!(
        keywords(sql).split(' ').next().unwrap_or(""),
        "INSERT"
            | "UPDATE"
            | "DELETE"
            | "MERGE"
            | "TRUNCATE"
            | "DROP"
            | "CREATE"
            | "ALTER"
            | "REPLACE"
            | "COPY"
            | "RENAME"
    );
    if changes {
        format!(
            "{} changes data and is refused: resweep query only reads the tables (they are rebuilt from the run directories by `resweep aggregate`)",
            keywords(sql)
        )
    } else {
        format!(
            "{} is not supported: resweep query runs one SELECT (or WITH … SELECT) over the tables runs, steps, layers, summary",
            keywords(sql)
        )
    }
}

/// `Expected: an SQL statement, found: SELEC at Line: 1, Column: 1` as one SQL line.
fn syntax_error(e: ParserError) -> String {
    let text = match e {
        ParserError::ParserError(t) | ParserError::TokenizerError(t) => t,
        ParserError::RecursionLimitExceeded => "the query nests too deeply".into(),
    };
    let (what, place) = match text.rsplit_once(" at Line: ") {
        Some((what, place)) => (
            what.to_string(),
            format!(" at line {}", place.replace(", Column: ", ", column ")),
        ),
        None => (text.clone(), String::new()),
    };
    let what = what
        .replacen("Expected: ", "expected ", 1)
        .replace(", found: ", ", found ");
    format!("syntax error{place}: {what}")
}

/// The result column name polars gives a select item, when it is known.
fn output_name(item: &SelectItem) -> Option<String> {
    match item {
        SelectItem::UnnamedExpr(Expr::Identifier(id)) => Some(id.value.clone()),
        SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) => {
            parts.last().map(|p| p.value.clone())
        }
        SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
        _ => None,
    }
}

/// Names every unaliased expression by its text, and qualified columns that clash by
/// their full name; `Err` for a clash only the user can resolve. `true` when changed.
fn name_columns(items: &mut [SelectItem]) -> Result<bool, String> {
    let mut changed = false;
    for item in items.iter_mut() {
        if let SelectItem::UnnamedExpr(expr) = item {
            if !matches!(expr, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
                let alias = Ident::with_quote('"', expr.to_string());
                *item = SelectItem::ExprWithAlias {
                    expr: expr.clone(),
                    alias,
                };
                changed = true;
            }
        }
    }
    let names: Vec<Option<String>> = items.iter().map(output_name).collect();
    let clashes = |name: &str| names.iter().filter(|n| n.as_deref() == Some(name)).count() > 1;
    for (item, name) in items.iter_mut().zip(&names) {
        if let (SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)), Some(name)) =
            (&*item, name)
        {
            if clashes(name) {
                let full = parts
                    .iter()
                    .map(|p| p.value.as_str())
                    .collect::<Vec<_>>()
                    .join(".");
                *item = SelectItem::ExprWithAlias {
                    expr: Expr::CompoundIdentifier(parts.clone()),
                    alias: Ident::with_quote('"', full),
                };
                changed = true;
            }
        }
    }
    let names: Vec<Option<String>> = items.iter().map(output_name).collect();
    for (i, name) in names.iter().enumerate() {
        let Some(name) = name else { continue };
        if let Some(j) = names[i + 1..]
            .iter()
            .position(|n| n.as_deref() == Some(name))
        {
            return Err(format!(
                "two result columns are named `{name}` (select items {} and {}): give one another name with AS, e.g. `{name} AS {name}_2`",
                i + 1,
                i + j + 2
            ));
        }
    }
    Ok(changed)
}

/// A polars error message as one line in SQL's words: the first line, without a Rust
/// debug dump of the syntax tree (`CompoundIdentifier([Ident { … }])` becomes `a
/// compound identifier`) and without advice meant for polars' Python API.
pub fn polars_message(msg: &str) -> String {
    let first = msg
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("unknown error");
    let mut line = first.to_string();
    // A dump: a CamelCase name directly followed by `(` or ` {`.
    let dump = (0..first.len()).find(|&i| {
        let rest = &first[i..];
        let boundary = i == 0 || !first.as_bytes()[i - 1].is_ascii_alphanumeric();
        let word: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        boundary
            && word.len() > 1
            && word.starts_with(|c: char| c.is_ascii_uppercase())
            && word.chars().any(|c| c.is_ascii_lowercase())
            && (rest[word.len()..].starts_with('(') || rest[word.len()..].starts_with(" {"))
    });
    if let Some(i) = dump {
        let word: String = first[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let mut words = String::new();
        for (k, c) in word.chars().enumerate() {
            if c.is_ascii_uppercase() && k > 0 {
                words.push(' ');
            }
            words.push(c.to_ascii_lowercase());
        }
        let article = if words.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        let head = first[..i].trim_end_matches([' ', ':', '\'', '"', '(', '\n']);
        line = format!("{head}: {article} {words} is not supported here");
    }
    // "...; found:" followed by a dump on the next lines: the dump says nothing more.
    for tail in ["; found:", ": found:", "found:", ":"] {
        if let Some(head) = line.strip_suffix(tail) {
            line = head.to_string();
            break;
        }
    }
    if let Some(rest) = line.strip_prefix("duplicate: projections contained duplicate output name ")
    {
        let name = rest.split('\'').nth(1).unwrap_or(rest);
        return format!(
            "two result columns are named `{name}`: give one another name with AS, e.g. `{name} AS {name}_2`"
        );
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_pass_and_unaliased_expressions_get_their_sql_text_as_name() {
        let q = "SELECT residual, depth FROM runs WHERE seed > 1 ORDER BY depth";
        assert_eq!(prepare(q).unwrap(), q);
        let p =
            prepare("SELECT residual, avg(final_eval_loss), count(*) FROM runs GROUP BY residual")
                .unwrap();
        assert!(
            p.contains(r#"avg(final_eval_loss) AS "avg(final_eval_loss)""#)
                && p.contains(r#"count(*) AS "count(*)""#),
            "{p}"
        );
        let p = prepare(
            "SELECT residual, avg(x) AS m FROM runs GROUP BY residual ORDER BY avg(x) DESC",
        )
        .unwrap();
        assert!(p.ends_with("ORDER BY m DESC"), "{p}");
        let p = prepare("SELECT r.seed, s.seed FROM runs r JOIN runs s USING (run_id)").unwrap();
        assert!(
            p.contains(r#"r.seed AS "r.seed""#) && p.contains(r#"s.seed AS "s.seed""#),
            "{p}"
        );
    }

    #[test]
    fn only_results_without_an_order_of_their_own_are_put_in_natural_order() {
        for q in [
            "SELECT depth, avg(final_eval_loss) FROM runs GROUP BY depth",
            "SELECT DISTINCT depth FROM runs",
            "SELECT depth FROM runs UNION SELECT width FROM runs",
            "(SELECT depth, count(*) FROM runs GROUP BY depth)",
        ] {
            assert!(natural_order(q), "{q}");
        }
        for q in [
            "SELECT depth, seed FROM runs",
            "SELECT depth, avg(x) FROM runs GROUP BY depth ORDER BY depth DESC",
            "SELECT DISTINCT depth FROM runs ORDER BY depth",
            "SELECT depth, avg(x) FROM runs GROUP BY depth LIMIT 2",
            "SELECT count(*) FROM runs",
            "DROP TABLE runs",
            "SELEC * FROM runs",
        ] {
            assert!(!natural_order(q), "{q}");
        }
    }

    #[test]
    fn changes_other_statements_clashes_and_syntax_are_refused_in_sql_words() {
        let e = prepare("DROP TABLE runs").unwrap_err();
        assert!(
            e.starts_with("DROP TABLE changes data and is refused"),
            "{e}"
        );
        let e = prepare("insert into runs values (1)").unwrap_err();
        assert!(e.starts_with("INSERT INTO changes data"), "{e}");
        for q in [
            "DELETE FROM runs",
            "TRUNCATE runs",
            "CREATE TABLE x AS SELECT 1",
        ] {
            assert!(prepare(q).unwrap_err().contains("changes data"), "{q}");
        }
        assert!(prepare("SHOW TABLES")
            .unwrap_err()
            .starts_with("SHOW TABLES is not supported"));
        let e = prepare("SELECT depth, depth FROM runs").unwrap_err();
        assert!(
            e.contains("two result columns are named `depth` (select items 1 and 2)"),
            "{e}"
        );
        let e = prepare("SELEC * FROM runs").unwrap_err();
        assert_eq!(
            e,
            "syntax error at line 1, column 1: expected an SQL statement, found SELEC"
        );
        assert!(prepare("SELECT 1; SELECT 2")
            .unwrap_err()
            .starts_with("2 statements"));
    }

    #[test]
    fn polars_dumps_become_one_line_naming_the_construct() {
        assert_eq!(
            polars_message("unsupported join constraint expression: CompoundIdentifier([Ident { value: \"a\", quote_style: None }])"),
            "unsupported join constraint expression: a compound identifier is not supported here"
        );
        assert_eq!(
            polars_message("HAVING clause not valid outside of GROUP BY; found:\nSome(BinaryOp { left: Identifier(Ident { .. }) })"),
            "HAVING clause not valid outside of GROUP BY"
        );
        assert_eq!(
            polars_message("duplicate: projections contained duplicate output name 'seed'. It's possible that multiple expressions are returning the same default column name. If this is the case, try renaming the columns with `.alias(\"new_name\")`"),
            "two result columns are named `seed`: give one another name with AS, e.g. `seed AS seed_2`"
        );
        assert_eq!(
            polars_message("relation 'x' was not found"),
            "relation 'x' was not found"
        );
    }
}
