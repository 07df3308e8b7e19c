"""The training questions: SQuAD-format files read for training, the `--limit` selection, and the
paragraph list hard negatives are retrieved from. Standard library only (and `qa.squad`)."""

from __future__ import annotations

from qa.squad import SquadExample, load_squad


def load_training_files(paths: list[str], first_file: int,
                        paragraphs_by_article: dict[int, list[str]]) -> list[SquadExample]:
    """The examples of SQuAD-format `paths`; each file's articles are numbered from
    (`first_file` + its place) * 1,000,000, and their paragraphs added to `paragraphs_by_article`
    (the hard negatives come from an example's own article)."""
    examples: list[SquadExample] = []
    for file_index, path in enumerate(paths, first_file):
        articles, file_examples = load_squad(path)
        offset = file_index * 1_000_000
        for i, article in enumerate(articles):
            paragraphs_by_article[offset + i] = list(article.paragraphs)
        examples.extend(
            SquadExample(**{**e.__dict__, "article_index": offset + e.article_index}) for e in file_examples
        )
    return examples


def first_examples(examples: list[SquadExample], paragraphs_by_article: dict[int, list[str]],
                   limit: int | None) -> tuple[list[SquadExample], dict[int, list[str]]]:
    """`--limit`: the first `limit` examples, and only their articles' paragraphs (all when None).
    The BM25 table of the bare GPU path (`qa.training.table`) selects with it too, so its paragraph
    list is the one trained on."""
    if not limit:
        return examples, paragraphs_by_article
    examples = examples[:limit]
    keep = {e.article_index for e in examples}
    return examples, {k: v for k, v in paragraphs_by_article.items() if k in keep}


def training_paragraphs(paragraphs_by_article: dict[int, list[str]], examples: list[SquadExample]) -> list[str]:
    """Every paragraph once, sorted: the passages `build_groups` retrieves negatives from (and the
    list the BM25 table of `qa.training.table` ranks, so its table's indices mean the same)."""
    return sorted({p for ps in paragraphs_by_article.values() for p in ps} | {e.context for e in examples})
