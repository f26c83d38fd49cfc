from django.apps import AppConfig


class SyntheticConfig(AppConfig):
    name = "apps.synthetic"
    label = "synthetic"
    verbose_name = "Synthetic Q&A"

    def ready(self) -> None:
        # Approved pairs are a labelled retrieval set; the knowledge base asks for it by name.
        from apps.knowledge.evaluation import APPROVED_PAIRS, query_source_register
        from apps.synthetic.selectors import approved_pairs_as_queries

        query_source_register(
            name=APPROVED_PAIRS,
            provider=approved_pairs_as_queries,
            empty_message="There are no approved Q&A pairs to evaluate with yet.",
        )
