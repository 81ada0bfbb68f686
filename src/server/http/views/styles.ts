/** The one stylesheet, served at /assets/latchkey.css (CSP style-src 'self': no inline styles). */
export const stylesheet = `
:root { --fg:#1a1d24; --muted:#4a5160; --bg:#f4f5f8; --card:#fff; --accent:#2f4ad0; --accent-fg:#fff; --danger:#a4161a; --border:#d5d9e2; --focus:#ffbf47; }
* { box-sizing: border-box; }
html { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--fg); background: var(--bg); line-height: 1.5; }
body { margin: 0; min-height: 100vh; display: flex; flex-direction: column; align-items: center; }
.top { width: 100%; display: flex; justify-content: space-between; align-items: center; padding: .75rem 1.25rem; background: var(--card); border-bottom: 1px solid var(--border); flex-wrap: wrap; gap: .5rem; }
.brand { font-weight: 700; color: var(--fg); text-decoration: none; font-size: 1.1rem; }
.brand-mark { color: var(--accent); }
.top-logout { display: flex; gap: .75rem; align-items: center; margin: 0; }
.who { color: var(--muted); font-size: .95rem; }
.card { width: min(30rem, calc(100% - 2rem)); margin: 2.5rem 1rem; padding: 2rem; background: var(--card); border: 1px solid var(--border); border-radius: 12px; box-shadow: 0 4px 18px rgba(20,30,60,.06); }
.card.wide { width: min(46rem, calc(100% - 2rem)); }
h1 { font-size: 1.45rem; margin: 0 0 .75rem; line-height: 1.25; }
p { margin: .5rem 0 1rem; }
.muted { color: var(--muted); }
label { display: block; font-weight: 600; margin: 1rem 0 .35rem; }
input[type=text], input[type=password] { width: 100%; padding: .65rem .75rem; font-size: 1rem; border: 1px solid #8a92a3; border-radius: 8px; color: var(--fg); background: #fff; }
button, .button { display: inline-block; font: inherit; font-weight: 600; padding: .65rem 1.2rem; border-radius: 8px; border: 1px solid var(--accent); background: var(--accent); color: var(--accent-fg); cursor: pointer; text-decoration: none; }
button.secondary { background: #fff; color: var(--accent); }
button.danger { background: #fff; color: var(--danger); border-color: var(--danger); }
button.link { background: none; border: none; color: var(--accent); padding: 0; text-decoration: underline; font-weight: 500; }
.actions { display: flex; gap: .75rem; margin-top: 1.5rem; flex-wrap: wrap; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.alert { border-left: 4px solid var(--danger); background: #fdf0f0; padding: .75rem 1rem; border-radius: 6px; margin: 1rem 0; }
.scopes { list-style: none; padding: 0; margin: 1rem 0; }
.scopes li { padding: .6rem .75rem; border: 1px solid var(--border); border-radius: 8px; margin-bottom: .5rem; }
.scopes code, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; background: #eef0f5; padding: .1rem .3rem; border-radius: 4px; word-break: break-all; }
.client { font-weight: 700; }
dl.compare { display: grid; grid-template-columns: max-content 1fr; gap: .35rem 1rem; margin: 1rem 0; }
dl.compare dt { font-weight: 600; }
dl.compare dd { margin: 0; }
table { width: 100%; border-collapse: collapse; margin: 1rem 0; }
th, td { text-align: left; padding: .5rem; border-bottom: 1px solid var(--border); vertical-align: top; }
.foot { color: var(--muted); font-size: .85rem; margin: auto 0 1.5rem; padding-top: 1rem; }
@media (max-width: 480px) { .card { padding: 1.25rem; margin: 1rem; } }
`;
