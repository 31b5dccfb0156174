import { describe, expect, it } from 'vitest';
import { defaultFanotifyAddonPath, loadFanotifyAddon, openFanotifyEnforcer } from './fanotify.js';

describe('fanotify addon loading', () => {
  it('resolves the addon next to src/ and dist/ (native/addon/build/Release)', () => {
    expect(defaultFanotifyAddonPath).toMatch(/\/native\/addon\/build\/Release\/palisade_fanotify\.node$/);
  });

  it('says clearly when the addon is not built', () => {
    expect(() => loadFanotifyAddon('/nonexistent/palisade_fanotify.node')).toThrow(
      /fanotify addon not built: \/nonexistent\/palisade_fanotify\.node is missing/,
    );
    expect(() => openFanotifyEnforcer({ addonPath: '/nonexistent/palisade_fanotify.node' })).toThrow(
      /not built/,
    );
  });
});
