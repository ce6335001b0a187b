"""Input shapes of the follow-up section of an MoU's page. Only shapes: milestones.py, followup_log.py and
nudges.py decide, and views put their errors next to these fields."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectField, StringField, TextAreaField

from marketplace.accounts.models import label
from marketplace.agreements.models import PartyRole
from marketplace.alliance.followup_log import RECORDED_KINDS
from marketplace.alliance.followup_models import MilestoneRepeat
from marketplace.catalog.forms import Marked
from marketplace.forms import select_choices

EVIDENCE_TYPES = "application/pdf,image/jpeg,image/png"


def _sides():
    return [(PartyRole.SELLER.value, _l("The seller (cooperative)")),
            (PartyRole.BUYER.value, _l("The buyer (enterprise)"))]


class MilestoneForm(FlaskForm):
    title = StringField(_l("Milestone or obligation"), validators=[Marked()],
                        description=_l("For example: first sample delivered; 2 tonnes every month."))
    responsible = SelectField(_l("Side responsible"), validators=[Marked()])
    due_on = StringField(_l("Due date"), validators=[Marked()], render_kw={"type": "date"})
    repeat = SelectField(_l("Repeats"), description=_l(
        "When it is marked done, the next one is added, until the MoU's end date."))
    details = TextAreaField(_l("Details (optional)"), render_kw={"rows": 2})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.responsible.choices = select_choices(_sides(), _l("Choose…"))
        self.repeat.choices = select_choices([("", _l("Only once"))] + [(r.value, label(r)) for r in MilestoneRepeat])

    def details_values(self):
        return {"title": self.title.data, "responsible": self.responsible.data, "due_on": self.due_on.data,
                "repeat": self.repeat.data, "details": self.details.data}


class DoneForm(FlaskForm):
    note = TextAreaField(_l("Evidence: what was done"), render_kw={"rows": 2},
                         description=_l("A note, a file, or both. Both parties and the alliance can read them."))
    evidence = FileField(_l("File (optional)"), render_kw={"accept": EVIDENCE_TYPES},
                         description=_l("PDF, JPEG or PNG, up to 5 MB: a delivery note, a photo of the goods."))


class EntryForm(FlaskForm):
    kind = SelectField(_l("Kind"), validators=[Marked()])
    happened_on = StringField(_l("Date"), validators=[Marked()], render_kw={"type": "date"})
    party = SelectField(_l("With"))
    note = TextAreaField(_l("What was said, problems raised, help given"), validators=[Marked()],
                         render_kw={"rows": 3}, description=_l("Both parties can read the follow-up log."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = select_choices([(k.value, label(k)) for k in RECORDED_KINDS], _l("Choose…"))
        self.party.choices = select_choices([("", _l("Both parties")), *_sides()])

    def details_values(self):
        return {"kind": self.kind.data, "happened_on": self.happened_on.data, "party": self.party.data,
                "note": self.note.data}


class NudgeForm(FlaskForm):
    target = SelectField(_l("Nudge"), validators=[Marked()])
    message = TextAreaField(_l("Message"), validators=[Marked()], render_kw={"rows": 3}, description=_l(
        "They get it as a notice on Chợ HTX and by email. It is kept in the follow-up log."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.target.choices = select_choices([("both", _l("Both parties")), *_sides()])


class ConfirmForm(FlaskForm):
    """Only the CSRF token (deleting asks in a <details> first)."""

