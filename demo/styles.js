// @ts-check
/** The demo app's one stylesheet (served at /assets/demo.css; the CSP allows styles only from the app). */
export const stylesheet = `
:root { --fg:#16181d; --muted:#4b5262; --bg:#f5f6f9; --card:#fff; --accent:#1d6b52; --accent-dark:#134a39; --accent-soft:#e3f2ec; --border:#d6dae3; --focus:#ffbf47; --front:#2847c4; --back:#a33c00; }
* { box-sizing: border-box; }
html { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--fg); background: var(--bg); line-height: 1.55; }
body { margin: 0; min-height: 100vh; display: flex; flex-direction: column; }
a { color: var(--accent-dark); }
.visually-hidden { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
.skip { position: absolute; left: .5rem; top: -3rem; background: var(--fg); color: #fff; padding: .5rem .9rem; border-radius: 6px; z-index: 10; }
.skip:focus { top: .5rem; }
:focus-visible { outline: 3px solid var(--fg); outline-offset: 2px; box-shadow: 0 0 0 6px var(--focus); }
.bar { display: flex; align-items: center; gap: 1.25rem; flex-wrap: wrap; padding: .7rem 1.5rem; background: var(--card); border-bottom: 1px solid var(--border); }
.brand { font-weight: 700; font-size: 1.1rem; color: var(--fg); text-decoration: none; display: flex; align-items: center; gap: .4rem; }
.logo { display: inline-grid; place-items: center; width: 1.8rem; height: 1.8rem; border-radius: 8px; background: var(--accent); color: #fff; }
.tag { font-size: .72rem; font-weight: 600; text-transform: uppercase; letter-spacing: .04em; color: var(--accent-dark); background: var(--accent-soft); padding: .1rem .45rem; border-radius: 99px; }
.bar nav { display: flex; gap: 1rem; flex: 1; }
.bar nav a { color: var(--muted); text-decoration: none; padding: .25rem 0; border-bottom: 2px solid transparent; }
.bar nav a:hover { color: var(--fg); }
.bar nav a[aria-current=page] { color: var(--fg); border-bottom-color: var(--accent); font-weight: 600; }
.signout { display: flex; align-items: center; gap: .75rem; margin: 0; }
.who { color: var(--muted); }
.wrap { width: min(46rem, calc(100% - 2rem)); margin: 2rem auto; flex: 1; }
.wrap.wide { width: min(64rem, calc(100% - 2rem)); }
.wrap:focus { outline: none; }
h1 { font-size: 1.8rem; line-height: 1.2; margin: .5rem 0 1rem; }
h2 { font-size: 1.2rem; margin: 0 0 .75rem; }
h3 { font-size: 1.1rem; margin: 0 0 .5rem; display: flex; align-items: center; gap: .6rem; }
.lead { font-size: 1.1rem; color: var(--muted); }
.muted { color: var(--muted); }
.hero { background: var(--card); border: 1px solid var(--border); border-radius: 14px; padding: 2rem; }
.how { display: grid; grid-template-columns: repeat(auto-fit, minmax(13rem, 1fr)); gap: 1rem; padding: 0; list-style: none; counter-reset: how; margin: 1.5rem 0; }
.how li { background: var(--card); border: 1px solid var(--border); border-radius: 12px; padding: 1rem 1.1rem; counter-increment: how; }
.how li::before { content: counter(how); display: grid; place-items: center; width: 1.6rem; height: 1.6rem; border-radius: 50%; background: var(--accent-soft); color: var(--accent-dark); font-weight: 700; margin-bottom: .4rem; }
.panel { background: var(--card); border: 1px solid var(--border); border-radius: 12px; padding: 1.25rem 1.5rem; margin: 1rem 0; }
.button, button { display: inline-block; font: inherit; font-weight: 600; padding: .6rem 1.15rem; border-radius: 8px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; text-decoration: none; }
.button:hover, button:hover { background: var(--accent-dark); }
.button.secondary { background: var(--card); color: var(--accent-dark); }
.button.small { padding: .35rem .8rem; }
button.ghost { background: var(--card); color: var(--accent-dark); padding: .35rem .8rem; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .4rem 1.25rem; margin: 0 0 .75rem; }
.facts dt { font-weight: 600; }
.facts dd { margin: 0; overflow-wrap: anywhere; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .88em; }
code { background: #eef0f5; padding: .05rem .3rem; border-radius: 4px; overflow-wrap: anywhere; }
.chip { display: inline-block; background: var(--accent-soft); color: var(--accent-dark); border-radius: 99px; padding: .05rem .6rem; font-size: .9rem; font-weight: 600; margin: 0 .25rem .25rem 0; }
.from { font-weight: 400; font-size: .9rem; color: var(--muted); }
.notes { list-style: none; padding: 0; margin: 0 0 1rem; }
.notes li { border: 1px solid var(--border); border-radius: 10px; padding: .6rem .9rem; margin-bottom: .5rem; }
.notes p { margin: 0; }
.notes time { font-size: .85rem; color: var(--muted); }
.add label { display: block; font-weight: 600; margin-bottom: .3rem; }
.add .row { display: flex; gap: .5rem; }
.add input { flex: 1; min-width: 0; font: inherit; padding: .55rem .7rem; border: 1px solid #7d8596; border-radius: 8px; }
.notice { border-left: 4px solid var(--back); background: #fff4ec; padding: .7rem 1rem; border-radius: 6px; margin: 1rem 0; }
.next { margin: 1.5rem 0; }
.key { display: flex; flex-wrap: wrap; gap: .4rem 1rem; align-items: center; color: var(--muted); font-size: .9rem; margin: 1rem 0 .5rem; }
.swatch { display: inline-block; width: 2rem; height: 0; border-top: 3px solid var(--front); vertical-align: middle; }
.swatch.back { border-top-color: var(--back); }
.swatch.dashed { border-top: 3px dashed var(--muted); }
.diagram { background: var(--card); border: 1px solid var(--border); border-radius: 12px; padding: .75rem; overflow-x: auto; }
.sequence { display: block; max-width: 100%; height: auto; min-width: 44rem; font-family: system-ui, sans-serif; }
.sequence .actor rect { fill: #eef0f5; stroke: #8a92a3; }
.sequence .actor text { font-weight: 700; font-size: 14px; fill: var(--fg); }
.sequence .lifeline { stroke: #aab0bd; stroke-dasharray: 4 4; }
.sequence .msg line { stroke-width: 2; }
.sequence .msg.front line { stroke: var(--front); }
.sequence .msg.back line { stroke: var(--back); }
.sequence .msg.response line { stroke-dasharray: 7 4; }
.sequence .head.front { fill: var(--front); }
.sequence .head.back { fill: var(--back); }
.sequence .label { font-size: 12.5px; fill: var(--fg); paint-order: stroke; stroke: #fff; stroke-width: 4px; stroke-linejoin: round; }
.sequence circle { fill: var(--accent-soft); stroke: var(--accent); }
.sequence .badge { font-size: 12px; font-weight: 700; fill: var(--accent-dark); }
.sequence .band.even { fill: #f4f6fa; }
.sequence .band.odd { fill: #fff; }
details { margin-top: .35rem; }
summary { cursor: pointer; color: var(--accent-dark); font-weight: 600; font-size: .92rem; padding: .2rem 0; }
details pre { margin-top: .35rem !important; }
.jump ol { list-style: none; display: flex; flex-wrap: wrap; gap: .4rem; padding: 0; margin: 1rem 0; }
.jump a { display: inline-flex; align-items: center; gap: .4rem; padding: .25rem .7rem .25rem .3rem; border: 1px solid var(--border); border-radius: 99px; background: var(--card); text-decoration: none; color: var(--fg); font-size: .92rem; }
.jump a:hover { border-color: var(--accent); }
.jump .letter { min-width: 1.5rem; height: 1.5rem; font-size: .8rem; }
.ideas { list-style: none; padding: 0; display: grid; grid-template-columns: repeat(auto-fit, minmax(16rem, 1fr)); gap: .75rem; margin: 1rem 0; }
.ideas li { background: var(--card); border: 1px solid var(--border); border-left: 4px solid var(--accent); border-radius: 10px; padding: .8rem 1rem; }
.try li { margin-bottom: .6rem; }
.step { background: var(--card); border: 1px solid var(--border); border-radius: 12px; padding: 1.1rem 1.4rem; margin: 1rem 0; }
.letter { display: inline-grid; place-items: center; min-width: 1.9rem; height: 1.9rem; border-radius: 50%; background: var(--accent); color: #fff; font-weight: 700; }
.refs { font-size: .92rem; }
.ref { display: inline-block; background: #eef0f5; border-radius: 6px; padding: .05rem .45rem; margin-right: .25rem; color: var(--fg); }
.message { margin: .75rem 0 0; }
.message figcaption { font-size: .9rem; font-weight: 600; color: var(--muted); margin-bottom: .25rem; }
.message pre { margin: 0 0 .35rem; background: #1c1f26; color: #e8eaf0; padding: .8rem 1rem; border-radius: 8px; overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
.message pre code { background: none; padding: 0; color: inherit; }
.claims-intro { margin: .5rem 0 .25rem; font-size: .92rem; }
.foot { color: var(--muted); font-size: .85rem; text-align: center; padding: 1.5rem 1rem; border-top: 1px solid var(--border); background: var(--card); }
@media (max-width: 560px) { .bar { padding: .6rem 1rem; } .hero { padding: 1.25rem; } h1 { font-size: 1.45rem; } .facts { grid-template-columns: 1fr; } .add .row { flex-direction: column; } }
`;
