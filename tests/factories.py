import factory
from django.contrib.auth.models import Group

from apps.accounts.models import User
from apps.accounts.roles import LEAD, REVIEWER
from apps.knowledge.models import ProductLine

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if extracted:
            self.groups.add(Group.objects.get(name=extracted))
        if create:
            self.save()


def reviewer(**kwargs) -> User:
    return UserFactory(role=REVIEWER, **kwargs)


def lead(**kwargs) -> User:
    return UserFactory(role=LEAD, **kwargs)


def admin(**kwargs) -> User:
    return UserFactory(is_staff=True, is_superuser=True, **kwargs)


class ProductLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductLine
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Line {n}")
    slug = factory.LazyAttribute(lambda p: p.name.lower().replace(" ", "-"))


QA_SOURCE = "Pro keeps 30 days of version history. Enterprise keeps 365 days of version history."


def qa_pairs(n: int = 3, *, required_approvals: int = 1, verified: bool = True) -> list:
    """`n` pending pairs of one finished run, quoting QA_SOURCE."""
    from apps.synthetic.models import GenerationRun, QAPair

    run = GenerationRun.objects.create(
        required_approvals=required_approvals, status=GenerationRun.Status.DONE
    )
    return [
        QAPair.objects.create(
            run=run,
            source_text=QA_SOURCE,
            kind="limits",
            question=f"How long is history kept on plan {i}?",
            answer="30 days on Pro.",
            quote="Pro keeps 30 days of version history.",
            verified=verified,
            model="gemma",
            prompt_version="qa_pair@x",
        )
        for i in range(n)
    ]


def approved_pairs(per_line: dict[str, int]) -> list:
    """Approved, verified, distinct pairs of one finished run: `per_line` maps a product
    line's name to how many it gets. Test data for exports; approvals go through no review."""
    from apps.synthetic.models import GenerationRun, QAPair

    run = GenerationRun.objects.create(status=GenerationRun.Status.DONE)
    pairs = []
    for name, n in per_line.items():
        line = ProductLineFactory(name=name, slug=name.lower().replace(" ", "-"))
        pairs += [
            QAPair(
                run=run,
                product_line=line,
                source_text=QA_SOURCE,
                kind="limits",
                question=f"{name} question {i}: how long is history kept?",
                answer=f"{name} answer {i}.",
                quote="Pro keeps 30 days of version history.",
                verified=True,
                status=QAPair.Status.APPROVED,
            )
            for i in range(n)
        ]
    return QAPair.objects.bulk_create(pairs)


def chunk(line=None, *, title: str = "Guide"):
    """One chunk of a one-chunk document of `line` (or of none): something a run can sample.
    Its vector is a constant: for tests that count or select chunks, not that search them."""
    from apps.knowledge.models import Chunk, Document

    document = Document.objects.create(
        external_id=f"{title}-{Document.objects.count()}.md",
        title=title,
        format="markdown",
        product_line=line,
        raw=b"# Guide",
        content_hash="x",
        chunk_config="x",
        chunk_count=1,
    )
    return Chunk.objects.create(
        document=document,
        ordinal=0,
        text="Guide",
        token_count=1,
        product_line=line,
        embedding=[0.1] * 384,
    )
