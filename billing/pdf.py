"""Invoice PDFs, rendered with reportlab from the same content as the invoice page
(``billing.selectors.invoice_detail``). The portal and the REST API serve the same bytes.

Text is set with reportlab's built-in Helvetica, so the PDF needs no font files; characters
outside Latin-1 (e.g. Chinese account names) are replaced by "?" rather than drawn as
missing glyphs.
"""

import io
from decimal import Decimal
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from billing.models import Invoice, InvoiceLine
from billing.rating.text import money_text, qty
from billing.selectors import InvoiceDetail, invoice_detail

SELLER = "Communications billing"
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
    text = text.encode("latin-1", "replace").decode("latin-1")
    return escape(text).replace("\n", "<br/>")


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


def _money(amount: Decimal | None, currency: str) -> str:
    return "" if amount is None else money_text(amount, currency)


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


def render_invoice_detail(detail: InvoiceDetail) -> bytes:
    """The PDF of an invoice detail, as bytes."""
    invoice = detail.invoice
    currency = detail.currency
    s = _styles()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=16 * mm,
        rightMargin=16 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=detail.title,
        author=SELLER,
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
    if invoice.finalized_at:
        facts.append(("Issued", f"{invoice.finalized_at:%d %b %Y}"))
    if invoice.due_date:
        facts.append(("Due", f"{invoice.due_date:%d %b %Y}"))
    if invoice.state == Invoice.State.VOID:
        facts.append(("Void", invoice.void_reason or ""))
    bill_to = "<br/>".join(
        _cell(v, max_lines=lines)
        for v, lines in (
            (detail.bill_to["name"], 1),
            (detail.bill_to["billing_email"], 1),
            (detail.bill_to["billing_address"], CELL_MAX_LINES),
        )
        if v
    )
    header = Table(
        [
            [
                Paragraph(f"<b>Billed to</b><br/>{bill_to}", s["body"]),
                Table(
                    [
                        [Paragraph(_text(k), s["muted"]), Paragraph(_cell(v), s["body"])]
                        for k, v in facts
                    ],
                    colWidths=[28 * mm, 52 * mm],
                ),
            ]
        ],
        colWidths=[width - 82 * mm, 82 * mm],
    )
    header.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story += [header, Spacer(1, 4 * mm)]
    if invoice.state == Invoice.State.DRAFT:
        story.append(
            Paragraph(
                "Draft: the running month, recomputed as usage is rated. It gets its number "
                "and becomes due when the month closes.",
                s["muted"],
            )
        )

    story.append(Paragraph("Lines", s["h2"]))
    rows = [
        [
            Paragraph("Description", s["head"]),
            Paragraph("Quantity", s["headnum"]),
            Paragraph("Unit price", s["headnum"]),
            Paragraph("Amount", s["headnum"]),
        ]
    ]
    for line in detail.lines:
        rows.append(
            [
                Paragraph(
                    f"{_cell(line.description)}<br/>"
                    f"<font color='#5b6475'>{_text(line.get_kind_display())}</font>",
                    s["body"],
                ),
                Paragraph(
                    "" if line.kind == InvoiceLine.Kind.ADJUSTMENT else _text(qty(line.quantity)),
                    s["num"],
                ),
                # A usage line's price is in its description ("7 CNY per 1,000 minutes").
                Paragraph(
                    _text(_money(line.unit_price, currency))
                    if line.kind != InvoiceLine.Kind.USAGE and line.unit_price is not None
                    else "",
                    s["num"],
                ),
                Paragraph(_text(_money(line.amount, currency)), s["num"]),
            ]
        )
    if not detail.lines:
        rows.append([Paragraph("No lines.", s["muted"]), "", "", ""])
    totals = [("Total", invoice.total)]
    if detail.credited:
        totals.append(("Credited", -detail.credited))
    if detail.paid:
        totals.append(("Paid", -detail.paid))
    if invoice.state != Invoice.State.DRAFT:
        totals.append(("Amount due", detail.amount_due))
    for label, amount in totals:
        rows.append(
            [
                Paragraph(f"<b>{_text(label)}</b>", s["body"]),
                "",
                "",
                Paragraph(f"<b>{_text(_money(amount, currency))}</b>", s["num"]),
            ]
        )
    lines_table = _table(rows, [width - 92 * mm, 24 * mm, 32 * mm, 36 * mm], total_rows=len(totals))
    # The totals stay on the page of the last line, never on a page of their own.
    lines_table.setStyle(TableStyle([("NOSPLIT", (0, -len(totals) - 1), (-1, -1))]))
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
                    Paragraph(f"{note.created_at:%d %b %Y}", s["body"]),
                    Paragraph(_cell(note.reason), s["body"]),
                    Paragraph(_text(_money(note.amount, note.currency)), s["num"]),
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
                    Paragraph(f"{payment.received_at:%d %b %Y}", s["body"]),
                    Paragraph(_cell(payment.reference), s["body"]),
                    Paragraph(_text(_money(payment.amount, payment.currency)), s["num"]),
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

    def footer(canvas, document):
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.setFillColor(MUTED)
        canvas.drawString(doc.leftMargin, 9 * mm, f"{SELLER} · {detail.title}")
        canvas.drawRightString(doc.leftMargin + doc.width, 9 * mm, f"Page {document.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def invoice_pdf(invoice: Invoice) -> bytes:
    """The PDF of ``invoice`` (any state; a draft says it is one)."""
    return render_invoice_detail(invoice_detail(invoice=invoice))


def invoice_pdf_filename(invoice: Invoice) -> str:
    if invoice.number:
        return f"{invoice.number}.pdf"
    return f"draft-{invoice.month:%Y-%m}-{invoice.currency}.pdf"
