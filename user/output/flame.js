// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * memtrace's flame graph: reads the JSON in #mt-data (its layout is
 * described at the top of user/output/out_html.c) and draws the call tree
 * of one process's outstanding bytes as SVG. Flame (root at the bottom)
 * or icicle (root at the top); click a frame to zoom into it, click the
 * root or "reset zoom" to zoom out; a search (a regular expression over
 * function, file and module) highlights the frames it matches and shows
 * the bytes below them; a tooltip has bytes, count, file:line and module.
 * Below the graph, the sites (the frames allocations end in) by bytes.
 *
 * Every name comes from the traced program: it reaches the page only as
 * a text node or an attribute value set through the DOM, never as markup.
 * Embedded into the page by the Makefile (xxd); no library, no network.
 */
'use strict';
(function () {
	const SVGNS = 'http://www.w3.org/2000/svg';
	const ROW = 18; /* pixels per frame row */
	const MIN_PX = 0.5; /* frames narrower than this are not drawn */
	const MAX_SITES = 200; /* rows of the site table */
	const PY = 1,
		INLINED = 2;

	const t0 = performance.now();
	const data = JSON.parse(document.getElementById('mt-data').textContent);
	const $ = (id) => document.getElementById(id);
	const el = (tag, attrs, text) => {
		const e = tag.startsWith('svg:')
			? document.createElementNS(SVGNS, tag.slice(4))
			: document.createElement(tag);
		for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
		if (text !== undefined) e.textContent = text;
		return e;
	};

	/*
	 * The process shown, as typed arrays indexed by frame and by node
	 * (pre-order: a node's parent comes before it, the root is node 0):
	 * no object per node, so 100,000 sites load in a fraction of a second.
	 */
	let proc = null;
	let zoom = 0; /* the node zoomed into; 0 = the root, no zoom */
	let strHit = null; /* per string: the search matches it */

	function fmtBytes(b) {
		const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
		let i = 0,
			v = b;
		if (Math.abs(v) < 10240) return v + ' B';
		while (Math.abs(v) >= 1024 && i < u.length - 1) {
			v /= 1024;
			i++;
		}
		return v.toFixed(1) + ' ' + u[i];
	}

	function pct(a, b) {
		return b > 0 ? ((100 * a) / b).toFixed(2) + '%' : '-';
	}

	function base(path) {
		const i = path.lastIndexOf('/');
		return i < 0 ? path : path.slice(i + 1);
	}

	function load(p) {
		const f = p.frames,
			n = p.nodes;
		const nf = f.length >> 2,
			nn = n.length >> 2;
		const P = {
			info: p,
			strs: p.strings,
			fFn: new Int32Array(nf),
			fFile: new Int32Array(nf),
			fLine: new Int32Array(nf),
			fMod: new Int32Array(nf),
			fFlags: new Uint8Array(nf),
			nFrame: new Int32Array(nn),
			nParent: new Int32Array(nn),
			nDepth: new Int32Array(nn),
			nSelf: new Float64Array(nn),
			nSelfCount: new Float64Array(nn),
			nTotal: new Float64Array(nn),
			nCount: new Float64Array(nn),
			kidStart: new Int32Array(nn + 1),
			kids: new Int32Array(nn),
			sorted: new Uint8Array(nn),
			maxDepth: 0,
			sites: [],
		};
		let fn = -1;
		for (let i = 0; i < nf; i++) {
			fn += f[4 * i];
			P.fFn[i] = fn;
			P.fFile[i] = f[4 * i + 1];
			P.fLine[i] = f[4 * i + 2];
			P.fMod[i] = f[4 * i + 3] >> 2;
			P.fFlags[i] = f[4 * i + 3] & 3;
		}
		/* pre-order: a stack of the nodes whose children are still being read */
		const open = new Int32Array(nn + 1),
			left = new Int32Array(nn + 1),
			nKids = new Int32Array(nn);
		let top = -1,
			frame = -1;
		for (let i = 0; i < nn; i++) {
			while (top >= 0 && left[top] === 0) top--;
			frame += n[4 * i];
			P.nFrame[i] = frame;
			P.nSelf[i] = P.nTotal[i] = n[4 * i + 2];
			P.nSelfCount[i] = P.nCount[i] = n[4 * i + 3];
			if (top >= 0) {
				const parent = open[top];
				left[top]--;
				P.nParent[i] = parent;
				P.nDepth[i] = P.nDepth[parent] + 1;
				nKids[parent]++;
			} else {
				P.nParent[i] = -1;
			}
			if (P.nDepth[i] > P.maxDepth) P.maxDepth = P.nDepth[i];
			if (i > 0 && P.nSelf[i] > 0) P.sites.push(i);
			open[++top] = i;
			left[top] = n[4 * i + 1];
		}
		const kidStart = P.kidStart,
			kids = P.kids,
			parent = P.nParent,
			total = P.nTotal,
			count = P.nCount,
			self = P.nSelf;
		for (let i = 0; i < nn; i++) kidStart[i + 1] = kidStart[i] + nKids[i];
		const fill = kidStart.slice(0, nn);
		for (let i = 1; i < nn; i++) kids[fill[parent[i]]++] = i;
		/* totals: a child comes after its parent, so backwards adds each once */
		for (let i = nn - 1; i > 0; i--) {
			total[parent[i]] += total[i];
			count[parent[i]] += count[i];
		}
		/* the MAX_SITES largest sites: a native numeric sort finds the bar */
		const sizes = Float64Array.from(P.sites, (i) => self[i]).sort();
		const bar = sizes.length > MAX_SITES ? sizes[sizes.length - MAX_SITES] : 0;
		P.nrSites = P.sites.length;
		P.sites = P.sites.filter((i) => self[i] >= bar).sort((a, b) => self[b] - self[a]);
		return P;
	}

	/* The children of node i, largest first (sorted when first needed). */
	function kidsOf(i) {
		const k = proc.kids.subarray(proc.kidStart[i], proc.kidStart[i + 1]);
		if (!proc.sorted[i]) {
			k.sort((a, b) => proc.nTotal[b] - proc.nTotal[a]);
			proc.sorted[i] = 1;
		}
		return k;
	}

	/* A frame's names, for the frames drawn, listed or pointed at. */
	function frameInfo(f) {
		const s = proc.strs;
		const fr = {
			fn: s[proc.fFn[f]] || '??',
			file: s[proc.fFile[f]] || '',
			line: proc.fLine[f],
			mod: s[proc.fMod[f]] || '',
			py: (proc.fFlags[f] & PY) !== 0,
			inlined: (proc.fFlags[f] & INLINED) !== 0,
		};
		fr.where = fr.file ? fr.file + (fr.line ? ':' + fr.line : '') : '';
		fr.label = fr.fn + (fr.file ? ' (' + base(fr.file) + (fr.line ? ':' + fr.line : '') + ')' : '');
		return fr;
	}

	function hash(s) {
		let h = 2166136261;
		for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
		return (h >>> 0) / 4294967296;
	}

	/* Native frames warm (red to yellow), Python frames cool (cyan to blue). */
	function color(fr) {
		const v = hash(fr.fn);
		const light = fr.inlined ? 72 : 60;
		if (fr.py) return 'hsl(' + Math.round(190 + 60 * v) + ',60%,' + light + '%)';
		return 'hsl(' + Math.round(10 + 40 * v) + ',80%,' + light + '%)';
	}

	/* The search matches node i's frame (by its function, file or module). */
	function hit(i) {
		if (strHit === null || i === 0) return false;
		const f = proc.nFrame[i];
		return strHit[proc.fFn[f]] === 1 || strHit[proc.fFile[f]] === 1 || strHit[proc.fMod[f]] === 1;
	}

	function tipText(i) {
		const total = proc.nTotal[0];
		const bytes = proc.nTotal[i];
		const size = 'bytes ' + bytes + ' (' + fmtBytes(bytes) + ', ' + pct(bytes, total) + ')';
		if (i === 0) return 'all stacks\n' + size + '\ncount ' + proc.nCount[0];
		const fr = frameInfo(proc.nFrame[i]);
		const lines = [fr.fn + (fr.py ? '  [Python]' : '') + (fr.inlined ? '  [inlined]' : '')];
		if (fr.where) lines.push(fr.where);
		if (fr.mod) lines.push('module ' + fr.mod);
		lines.push(size, 'count ' + proc.nCount[i]);
		if (proc.nSelf[i] > 0) lines.push('allocated here: ' + proc.nSelf[i] + ' B in ' + proc.nSelfCount[i]);
		return lines.join('\n');
	}

	function showTip(ev, i) {
		const t = $('mt-tip');
		t.textContent = tipText(i);
		t.style.display = 'block';
		const x = Math.min(ev.clientX + 12, window.innerWidth - t.offsetWidth - 4);
		const y = ev.clientY + 16 + t.offsetHeight > window.innerHeight ? ev.clientY - t.offsetHeight - 8 : ev.clientY + 16;
		t.style.left = Math.max(0, x) + 'px';
		t.style.top = Math.max(0, y) + 'px';
	}

	function hideTip() {
		$('mt-tip').style.display = 'none';
	}

	/* Draw the tree into #mt-graph: only frames at least MIN_PX wide. */
	function draw() {
		const g = $('mt-graph');
		const width = Math.max(400, g.clientWidth - 24);
		const icicle = $('mt-icicle').checked;
		const height = (proc.maxDepth + 1) * ROW + 4;
		const svg = el('svg:svg', { width: width, height: height, viewBox: '0 0 ' + width + ' ' + height });
		const total = proc.nTotal[zoom] || 1;
		const y = (depth) => (icicle ? depth * ROW : height - (depth + 1) * ROW);
		const box = (i, x, w) => {
			const fr = i ? frameInfo(proc.nFrame[i]) : null;
			const grp = el('svg:g');
			const top = y(proc.nDepth[i]);
			const bytes = proc.nTotal[i];
			grp.appendChild(el('svg:title', {}, fr ? fr.label + (fr.where ? ' ' + fr.where : '') + (fr.mod ? ' [' + fr.mod + ']' : '') + ' ' + bytes + ' B' : 'all ' + bytes + ' B'));
			grp.appendChild(
				el('svg:rect', {
					x: x.toFixed(2),
					y: top,
					width: Math.max(w - 0.5, 0.5).toFixed(2),
					height: ROW - 1,
					fill: hit(i) ? '#d040d0' : fr ? color(fr) : '#c8c8d0',
					rx: 2,
				})
			);
			const chars = Math.floor((w - 6) / 6.6);
			if (chars >= 3) {
				const name = fr ? fr.label : 'all (' + fmtBytes(bytes) + ')';
				grp.appendChild(el('svg:text', { x: (x + 3).toFixed(2), y: top + ROW - 5 }, name.length > chars ? name.slice(0, chars - 1) + '\u2026' : name));
			}
			grp.addEventListener('click', () => {
				zoom = i;
				draw();
			});
			grp.addEventListener('mousemove', (ev) => showTip(ev, i));
			grp.addEventListener('mouseleave', hideTip);
			svg.appendChild(grp);
		};
		/* the zoomed frame and its callers span the whole width */
		for (let a = zoom; a >= 0; a = proc.nParent[a]) box(a, 0, width);
		const todo = [zoom, 0];
		while (todo.length) {
			let x = todo.pop();
			const i = todo.pop();
			for (const c of kidsOf(i)) {
				const w = (proc.nTotal[c] / total) * width;
				if (w < MIN_PX) break; /* sorted: the rest are narrower */
				box(c, x, w);
				todo.push(c, x);
				x += w;
			}
		}
		g.replaceChildren(svg);
		updateMatch();
	}

	/* Bytes under the frames the search matches, each stack counted once. */
	function updateMatch() {
		const m = $('mt-match');
		if (strHit === null) {
			m.textContent = '';
			return;
		}
		let bytes = 0;
		const walk = [0];
		while (walk.length) {
			const i = walk.pop();
			if (hit(i)) {
				bytes += proc.nTotal[i];
				continue;
			}
			for (let k = proc.kidStart[i]; k < proc.kidStart[i + 1]; k++) walk.push(proc.kids[k]);
		}
		m.textContent = 'matched ' + fmtBytes(bytes) + ' (' + pct(bytes, proc.nTotal[0]) + ')';
	}

	function search(v) {
		let re;
		strHit = null;
		if (v) {
			try {
				re = new RegExp(v, 'i');
			} catch (e) {
				re = new RegExp(v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i');
			}
			strHit = new Uint8Array(proc.strs.length);
			proc.strs.forEach((s, k) => (strHit[k] = k > 0 && re.test(s) ? 1 : 0));
		}
		draw();
	}

	function drawSites() {
		const t = el('table');
		const head = el('tr');
		for (const h of ['bytes', 'count', 'function', 'file:line', 'module']) head.appendChild(el('th', {}, h));
		t.appendChild(head);
		for (const i of proc.sites.slice(0, MAX_SITES)) {
			const fr = frameInfo(proc.nFrame[i]);
			const tr = el('tr');
			tr.appendChild(el('td', { class: 'n' }, fmtBytes(proc.nSelf[i])));
			tr.appendChild(el('td', { class: 'n' }, String(proc.nSelfCount[i])));
			tr.appendChild(el('td', {}, fr.fn + (fr.py ? ' [py]' : '')));
			tr.appendChild(el('td', {}, fr.where));
			tr.appendChild(el('td', {}, fr.mod));
			tr.addEventListener('click', () => {
				zoom = Math.max(proc.nParent[i], 0);
				draw();
			});
			t.appendChild(tr);
		}
		const more = proc.nrSites > MAX_SITES ? ' (the first ' + MAX_SITES + ' of ' + proc.nrSites + ')' : '';
		$('mt-sites').replaceChildren(el('p', {}, 'Sites by outstanding bytes' + more + ':'), t);
	}

	function show(k) {
		const p = data.processes[k];
		proc = load(p);
		zoom = 0;
		document.title = 'memtrace: ' + p.comm + ' (' + p.pid + ')';
		const when = new Date(p.time * 1000).toISOString().replace('T', ' ').slice(0, 19);
		$('mt-info').textContent = p.comm + ' pid ' + p.pid + ', report #' + p.seq + (p.final ? ' (final)' : '') + ' at ' + when + ': ' + fmtBytes(p.total_bytes) + ' in ' + p.total_count + ' allocations' + (p.note ? '; ' + p.note : '');
		drawSites(); /* first: its scroll bar narrows the graph */
		search($('mt-search').value);
	}

	function init() {
		const sel = $('mt-proc');
		const procs = data.processes || [];
		if (!procs.length) {
			$('mt-info').textContent = 'no report';
			return;
		}
		let best = 0;
		procs.forEach((p, i) => {
			sel.appendChild(el('option', { value: i }, p.comm + ' (' + p.pid + '): ' + fmtBytes(p.total_bytes)));
			if (p.total_bytes > procs[best].total_bytes) best = i;
		});
		sel.hidden = procs.length < 2;
		sel.value = String(best);
		sel.addEventListener('change', () => show(Number(sel.value)));
		$('mt-icicle').addEventListener('change', draw);
		$('mt-reset').addEventListener('click', () => {
			zoom = 0;
			draw();
		});
		$('mt-search').addEventListener('input', (ev) => search(ev.target.value));
		let pending = 0;
		window.addEventListener('resize', () => {
			clearTimeout(pending);
			pending = setTimeout(draw, 100);
		});
		show(best);
	}

	init();
	/* the time from the script's start to the first picture (tests and benchmarks read it) */
	document.body.setAttribute('data-render-ms', (performance.now() - t0).toFixed(1));
})();
