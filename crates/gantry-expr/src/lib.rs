//! GitHub Actions `${{ }}` expressions: lexer, parser and evaluator.
