"""Invoice PDFs, rendered with reportlab from the same content as the invoice page
(``billing.selectors.documents.invoice_document``). The portal and the REST API serve the same
bytes.

Text is set with reportlab's built-in Helvetica, so the PDF needs no font files; characters
outside Latin-1 (e.g. Chinese account names) are replaced by "?" rather than drawn as
missing glyphs.
"""

import functools
import io
from xml.sax.saxutils import escape

from django.conf import settings
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from billing.display import MINUS, local_date, money
from billing.models import Invoice, InvoiceLine
from billing.rating.text import qty
from billing.reports.statement import Statement, balance_words
from billing.selectors.documents import InvoiceDocument, invoice_document

INK = colors.HexColor("#1d2433")
MUTED = colors.HexColor("#5b6475")
LINE = colors.HexColor("#e3e7ee")


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontSize=9, leading=11.5, textColor=INK)
    return {
        "title": ParagraphStyle("title", parent=base["Title"], fontSize=18, alignment=0),
        "h2": ParagraphStyle("h2", parent=base["Heading2"], fontSize=11.5, spaceBefore=10),
        "body": body,
        "muted": ParagraphStyle("muted", parent=body, textColor=MUTED),
        "num": ParagraphStyle("num", parent=body, alignment=TA_RIGHT),
        "head": ParagraphStyle("head", parent=body, textColor=MUTED, fontName="Helvetica-Bold"),
        "headnum": ParagraphStyle(
            "headnum", parent=body, textColor=MUTED, fontName="Helvetica-Bold", alignment=TA_RIGHT
        ),
    }


def _text(value) -> str:
    """Escape for reportlab's mini-markup; keep what Helvetica (Latin-1) can draw."""
    text = "" if value is None else str(value)
    # The minus sign (U+2212) and dashes are not Latin-1: the minus is Symbol's glyph.
    text = text.replace("\u2013", "-").replace("\u2014", "-").replace("\u2026", "...")
    parts = [
        escape(part.encode("latin-1", "replace").decode("latin-1")) for part in text.split(MINUS)
    ]
    return '<font face="Symbol">-</font>'.join(parts).replace("\n", "<br/>")


# A table row must fit on a page (reportlab cannot split a row: a LayoutError, a 500). Text a
# customer or staff wrote (application names, reasons, references, addresses) is set on at
# most a few lines in a cell, and cut past CELL_MAX_CHARS with an ellipsis; the full text
# stays on the invoice page and in the audit trail.
CELL_MAX_CHARS = 400
CELL_MAX_LINES = 6


def _cell(value, *, max_lines: int = 1) -> str:
    """``_text`` for a table cell: runs of blank space and newlines folded, at most
    ``max_lines`` lines kept (an address), at most CELL_MAX_CHARS characters."""
    text = "" if value is None else str(value)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [line for line in lines if line]
    if max_lines <= 1:
        lines = [" ".join(lines)]
    elif len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], " ".join(lines[max_lines - 1 :])]
    text = "\n".join(lines)
    if len(text) > CELL_MAX_CHARS:
        text = text[: CELL_MAX_CHARS - 3].rstrip() + "..."
    return _text(text)


def _table(rows, widths, *, header=True, total_rows=0) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    style = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.5, LINE),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if total_rows:
        style.append(("LINEABOVE", (0, -total_rows), (-1, -total_rows), 1, INK))
    table.setStyle(TableStyle(style))
    return table


class _NumberedCanvas(Canvas):
    """'Page 2 of 3': the pages are kept until the end, then numbered."""

    def __init__(self, *args, footer_text: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []
        self._footer_text = footer_text

    def showPage(self):  # noqa: N802 - reportlab's API
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        count = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self.saveState()
            self.setFont("Helvetica", 8)
            self.setFillColor(MUTED)
            self.drawString(16 * mm, 9 * mm, self._footer_text)
            self.drawRightString(A4[0] - 16 * mm, 9 * mm, f"Page {self._pageNumber} of {count}")
            self.restoreState()
            super().showPage()
        super().save()


def _multiline(*values) -> str:
    """Party details in a header cell: each value bounded like a table cell (an address on
    a few lines), so the header always fits a page."""
    return "<br/>".join(_cell(v, max_lines=CELL_MAX_LINES) for v in values if v)


def render_invoice_detail(detail: InvoiceDocument) -> bytes:
    """The PDF of an invoice document, as bytes: the content of the invoice page."""
    invoice = detail.invoice
    currency = detail.currency
    s = _styles()
    buffer = io.BytesIO()
    seller = detail.seller
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=16 * mm,
        rightMargin=16 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=detail.title,
        author=seller["name"],
        subject=f"{detail.title}, {detail.month_label}",
        # The same invoice gives the same bytes every time (no render time or random id in
        # the file): a finalized invoice's PDF never changes (SPEC 6).
        invariant=True,
    )
    width = doc.width
    story = [Paragraph(_text(detail.title), s["title"])]

    facts = [
        ("State", invoice.get_state_display()),
        ("Month billed", detail.month_label),
        ("Currency", currency),
    ]
    if detail.issued_on:
        facts.append(("Issued", detail.issued_label))
    if detail.due_date:
        facts.append(("Due", detail.due_label))
    if invoice.state == Invoice.State.VOID:
        facts.append(("Void", invoice.void_reason or ""))
    seller_text = _multiline(
        seller["name"], seller["address"], seller["tax_id"] and f"Tax ID {seller['tax_id']}"
    )
    bill_to = detail.bill_to
    buyer_text = _multiline(
        bill_to["name"],
        bill_to["billing_address"],
        bill_to["tax_id"] and f"Tax ID {bill_to['tax_id']}",
        bill_to["billing_email"],
    )
    header = Table(
        [
            [
                Paragraph(f"<b>From</b><br/>{seller_text}", s["body"]),
                Paragraph(f"<b>Billed to</b><br/>{buyer_text}", s["body"]),
                Table(
                    [
                        [Paragraph(_text(k), s["muted"]), Paragraph(_cell(v), s["body"])]
                        for k, v in facts
                    ],
                    colWidths=[24 * mm, 38 * mm],
                ),
            ]
        ],
        colWidths=[(width - 64 * mm) / 2, (width - 64 * mm) / 2, 64 * mm],
    )
    header.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story += [header, Spacer(1, 4 * mm)]
    if invoice.state == Invoice.State.DRAFT:
        story.append(
            Paragraph(
                "Draft: what the running month would bill if it closed now; lines marked "
                "'Estimate so far' are monthly items as they stand today. It gets its number "
                "and becomes due when the month closes."
                if detail.is_running_draft
                else "Draft: recomputed as usage is rated. It gets its number and becomes due "
                "when the month closes.",
                s["muted"],
            )
        )

    story.append(Paragraph("Lines", s["h2"]))
    heads = ("Description", "Used", "Covered", "Billed", "Unit price", "Amount")
    rows = [[Paragraph(h, s["head"] if h == "Description" else s["headnum"]) for h in heads]]
    group_rows: list[int] = []
    for group in detail.groups:
        group_rows.append(len(rows))
        rows.append([Paragraph(f"<b>{_cell(group.title)}</b>", s["body"]), "", "", "", "", ""])
        for line in group.lines:
            note = line.kind_label + (f" · days {line.days_label}" if line.days_label else "")
            usage = line.kind == InvoiceLine.Kind.USAGE
            rows.append(
                [
                    Paragraph(
                        f"{_cell(line.description)}<br/><font color='#5b6475'>{_text(note)}</font>",
                        s["body"],
                    ),
                    Paragraph(_text(qty(line.used)) if line.used is not None else "", s["num"]),
                    Paragraph(
                        _text(qty(line.covered)) if line.covered is not None else "", s["num"]
                    ),
                    Paragraph(
                        _text(f"{qty(line.quantity)} {line.unit}".strip())
                        if line.quantity is not None and usage
                        else (_text(qty(line.quantity)) if line.quantity is not None else ""),
                        s["num"],
                    ),
                    Paragraph(_text(line.unit_price_label), s["num"]),
                    Paragraph(_text(money(line.amount, currency)), s["num"]),
                ]
            )
        rows.append(
            [
                Paragraph(f"Subtotal, {_cell(group.title)}", s["body"]),
                "",
                "",
                "",
                "",
                Paragraph(f"<b>{_text(money(group.subtotal, currency))}</b>", s["num"]),
            ]
        )
    if not detail.groups:
        rows.append([Paragraph("No lines.", s["muted"]), "", "", "", "", ""])
    totals = [("Total so far" if detail.is_running_draft else "Total", detail.total)]
    if detail.credited:
        totals.append(("Credited", -detail.credited))
    if detail.paid:
        totals.append(("Paid", -detail.paid))
    if invoice.state != Invoice.State.DRAFT:
        label = "Amount due"
        if detail.due_date and detail.amount_due:
            label += f" by {detail.due_label}"
        totals.append((label, detail.amount_due))
    for label, amount in totals:
        rows.append(
            [
                Paragraph(f"<b>{_text(label)}</b>", s["body"]),
                "",
                "",
                "",
                "",
                Paragraph(f"<b>{_text(money(amount, currency))}</b>", s["num"]),
            ]
        )
    widths = [width - 122 * mm, 18 * mm, 18 * mm, 26 * mm, 30 * mm, 30 * mm]
    lines_table = _table(rows, widths, total_rows=len(totals))
    extra = [("BACKGROUND", (0, row), (-1, row), LINE) for row in group_rows]
    # The totals stay on the page of the last line, never on a page of their own.
    lines_table.setStyle(TableStyle([("NOSPLIT", (0, -len(totals) - 1), (-1, -1)), *extra]))
    story.append(lines_table)

    if detail.credit_notes:
        rows = [
            [
                Paragraph(h, s["headnum"] if h == "Amount" else s["head"])
                for h in ("Credit note", "Date", "Reason", "Amount")
            ]
        ]
        for note in detail.credit_notes:
            rows.append(
                [
                    Paragraph(_cell(note.number), s["body"]),
                    Paragraph(_text(local_date(note.created_at)), s["body"]),
                    Paragraph(_cell(note.reason), s["body"]),
                    Paragraph(_text(money(note.amount, note.currency)), s["num"]),
                ]
            )
        story.append(
            KeepTogether(
                [
                    Paragraph("Credit notes", s["h2"]),
                    _table(rows, [34 * mm, 26 * mm, width - 96 * mm, 36 * mm]),
                ]
            )
        )
    if detail.payments:
        rows = [
            [
                Paragraph(h, s["headnum"] if h == "Amount" else s["head"])
                for h in ("Received", "Reference", "Amount")
            ]
        ]
        for payment in detail.payments:
            rows.append(
                [
                    Paragraph(_text(local_date(payment.received_at)), s["body"]),
                    Paragraph(_cell(payment.reference), s["body"]),
                    Paragraph(_text(money(payment.amount, payment.currency)), s["num"]),
                ]
            )
        story.append(
            KeepTogether(
                [
                    Paragraph("Payments", s["h2"]),
                    _table(rows, [34 * mm, width - 70 * mm, 36 * mm]),
                ]
            )
        )
    if invoice.state != Invoice.State.DRAFT and seller["payment_instructions"]:
        story.append(
            KeepTogether(
                [
                    Paragraph("How to pay", s["h2"]),
                    Paragraph(_text(seller["payment_instructions"]), s["body"]),
                ]
            )
        )

    footer_text = f"{seller['name']} · {detail.title}".encode("latin-1", "replace").decode(
        "latin-1"
    )
    doc.build(story, canvasmaker=functools.partial(_NumberedCanvas, footer_text=footer_text))
    return buffer.getvalue()


def invoice_pdf(invoice: Invoice) -> bytes:
    """The PDF of ``invoice`` (any state; a draft says it is one)."""
    return render_invoice_detail(invoice_document(invoice=invoice))


def invoice_pdf_filename(invoice: Invoice) -> str:
    if invoice.number:
        return f"{invoice.number}.pdf"
    return f"draft-{invoice.month:%Y-%m}-{invoice.currency}.pdf"


def statement_pdf(statement: Statement) -> bytes:
    """An account statement (``billing.reports.statement``) as a PDF, in the invoice's style."""
    styles = _styles()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=16 * mm, rightMargin=16 * mm, topMargin=16 * mm,
        bottomMargin=16 * mm, title=f"Statement {statement.account.name}",
        author=settings.BILLING_SELLER_NAME,
    )  # fmt: skip
    story = [
        Paragraph("Account statement", styles["title"]),
        Paragraph(_text(f"{statement.account.name} · {statement.account.billing_email}"),
                  styles["body"]),
        Paragraph(_text(f"{statement.start:%d %b %Y} to {statement.end:%d %b %Y}"),
                  styles["muted"]),
    ]  # fmt: skip
    if not statement.currencies:
        story.append(Paragraph("Nothing was invoiced or paid up to the end of this range.",
                               styles["body"]))  # fmt: skip
    for part in statement.currencies:
        c = part.currency
        head = [Paragraph(h, styles["head"]) for h in ("Date", "Document", "Description")] + [
            Paragraph(h, styles["headnum"]) for h in ("Charges", "Credits", "Balance")
        ]
        rows = [head, [
            Paragraph(_text(f"{statement.start:%d %b %Y}"), styles["body"]), "",
            Paragraph("Opening balance", styles["body"]), "", "",
            Paragraph(_text(balance_words(part.opening, c)), styles["num"]),
        ]]  # fmt: skip
        for line in part.lines:
            rows.append([
                Paragraph(_text(f"{line.date:%d %b %Y}"), styles["body"]),
                Paragraph(_text(line.document), styles["body"]),
                Paragraph(_text(line.description), styles["body"]),
                Paragraph(_text(money(line.charges, c) if line.charges else ""), styles["num"]),
                Paragraph(_text(money(line.credits, c) if line.credits else ""), styles["num"]),
                Paragraph(_text(balance_words(line.balance, c)), styles["num"]),
            ])  # fmt: skip
        rows.append([
            Paragraph(_text(f"{statement.end:%d %b %Y}"), styles["body"]), "",
            Paragraph("<b>Closing balance</b>", styles["body"]),
            Paragraph(_text(money(part.total_charges, c)), styles["num"]),
            Paragraph(_text(money(part.total_credits, c)), styles["num"]),
            Paragraph(f"<b>{_text(balance_words(part.closing, c))}</b>", styles["num"]),
        ])  # fmt: skip
        story += [Spacer(1, 4 * mm), Paragraph(_text(c), styles["h2"])]
        widths = [22 * mm, 30 * mm, 58 * mm, 24 * mm, 24 * mm, 30 * mm]
        story.append(_table(rows, widths, total_rows=1))
    document.build(story)
    return buffer.getvalue()
