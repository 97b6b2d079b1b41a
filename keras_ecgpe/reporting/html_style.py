"""The style sheet inlined into every HTML report (screen and print).

On paper every table, figure and notice stays on one page, table headers repeat on each
page, colours turn to black on white, and the link colour of the contents is dropped.
"""

CSS = """\
:root { color-scheme: light; }
body { font-family: "Helvetica Neue", Arial, "Liberation Sans", sans-serif; color: #111;
  background: #fff; max-width: 64rem; margin: 2rem auto; padding: 0 1.25rem;
  line-height: 1.45; font-size: 15px; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; border-bottom: 1px solid #bbb;
  padding-bottom: .2rem; }
.subtitle { font-size: 1.05rem; margin: 0 0 .5rem; color: #333; }
.meta { margin: 0 0 1rem; padding: 0; list-style: none; color: #333; font-size: .9rem; }
nav.toc { margin: 1rem 0 1.5rem; }
nav.toc ol { margin: .25rem 0; padding-left: 1.5rem; }
nav.toc a { color: #1a4f8b; }
.notice { border-left: 5px solid; padding: .5rem .75rem; margin: .75rem 0; }
.notice-note { border-color: #2b6cb0; background: #eef5fc; }
.notice-warning { border-color: #b7791f; background: #fff8e6; }
.notice-critical { border-color: #c53030; background: #fdeeee; font-weight: 600; }
.notice .level { font-weight: 700; margin-right: .4rem; }
.table-block { margin: 1rem 0 1.5rem; overflow-x: auto; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: .92rem; }
/* A table's caption is its figure's figcaption: as wide as the text, not the table. */
.table-block figcaption { font-weight: 600; font-size: 1rem; margin: 0 0 .35rem; }
th, td { padding: .2rem .65rem; border-bottom: 1px solid #d4d4d4; vertical-align: top;
  text-align: left; }
thead th { border-bottom: 2px solid #333; }
.num { text-align: right; white-space: nowrap; }
.na { color: #555; font-style: italic; }
.table-notes { font-size: .85rem; color: #333; margin: .35rem 0 0; padding: 0;
  list-style: none; }
figure { margin: 1rem 0 1.5rem; }
figure img { max-width: 100%; height: auto; display: block; }
figcaption { font-size: .92rem; margin-top: .35rem; }
pre { background: #f5f5f5; border: 1px solid #ddd; padding: .6rem .8rem;
  white-space: pre-wrap; overflow-wrap: anywhere; font-size: .85rem; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem;
  margin: .5rem 0 1rem; }
dl.kv dt { font-weight: 600; }
dl.kv dd { margin: 0; }
.block-caption { font-weight: 600; margin: 1rem 0 .25rem; }
@media print {
  @page { margin: 15mm; }
  * { color: #000 !important; background: #fff !important; box-shadow: none !important; }
  body { max-width: none; margin: 0; padding: 0; font-size: 10pt; }
  .table-block { overflow: visible; }
  table, figure, .notice, pre, dl.kv, .table-block { break-inside: avoid;
    page-break-inside: avoid; }
  h2, .block-caption { break-after: avoid; page-break-after: avoid; }
  thead { display: table-header-group; }
  .notice { border: 1px solid #000 !important; border-left-width: 5px !important; }
  nav.toc a { text-decoration: none; }
}
"""
