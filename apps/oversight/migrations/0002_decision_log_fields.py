import django.contrib.postgres.fields
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """The edit log becomes the decision log: the old per-field text columns are kept under
    old_* names until 0003 has copied them into the new shape."""

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("oversight", "0001_initial"),
    ]

    operations = [
        migrations.RenameField("editlogentry", "before", "old_before"),
        migrations.RenameField("editlogentry", "after", "old_after"),
        migrations.RenameField("editlogentry", "field", "old_field"),
        # The free-text reason was the reviewer's own words: it is the note now.
        migrations.RenameField("editlogentry", "reason", "note"),
        migrations.AddField(
            model_name="editlogentry",
            name="area",
            field=models.CharField(
                choices=[
                    ("qa", "Synthetic Q&A"),
                    ("draft", "Draft replies"),
                    ("action", "Proposed actions"),
                ],
                default="qa",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="editlogentry",
            name="object_version",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="editlogentry",
            name="decision",
            field=models.CharField(
                choices=[
                    ("edit", "Edited"),
                    ("approve", "Approved"),
                    ("reject", "Rejected"),
                    ("flag", "Flagged"),
                    ("escalate", "Escalated"),
                    ("return", "Returned by a lead"),
                    ("regenerate", "Regenerated"),
                    ("override", "Unsupported sentence kept"),
                ],
                default="edit",
                max_length=12,
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="editlogentry",
            name="edited",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="editlogentry",
            name="reason",
            field=models.CharField(blank=True, max_length=50),
        ),
        migrations.AddField(
            model_name="editlogentry",
            name="before",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="editlogentry",
            name="after",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="editlogentry",
            name="changed_fields",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(max_length=50), blank=True, default=list, size=None
            ),
        ),
        migrations.AlterField(
            model_name="editlogentry", name="diff", field=models.TextField(blank=True)
        ),
        migrations.AddField(
            model_name="editlogentry",
            name="edit_ratio",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="editlogentry",
            name="editor_name",
            field=models.CharField(blank=True, max_length=150),
        ),
        migrations.AddField(
            model_name="editlogentry",
            name="product_line",
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.AddField(
            model_name="editlogentry",
            name="ai_created_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="editlogentry",
            name="requested_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="editlogentry",
            name="details",
            field=models.JSONField(blank=True, default=dict),
        ),
        # See EditLogEntry.editor: deleting a user must not write to the log.
        migrations.AlterField(
            model_name="editlogentry",
            name="editor",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
    ]
