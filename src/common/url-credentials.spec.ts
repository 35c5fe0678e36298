import { maskUrlPassword } from './url-credentials.js';

describe('maskUrlPassword', () => {
  it.each([
    ['http://user:pass@host/path?q=1', 'http://user:***@host/path?q=1'],
    ['https://user:p%40ss:word@host:8080/', 'https://user:***@host:8080/'],
    ['http://a:b@c@host/x', 'http://a:***@host/x'],
    ['https://:secret@host/', 'https://:***@host/'],
    ['http://user:pass@host\\@evil/', 'http://user:***@host\\@evil/'],
  ])('masks the password of %s', (url, shown) => {
    expect(maskUrlPassword(url)).toBe(shown);
  });

  it.each(['https://host/path', 'https://host/a@b', 'https://host/?u=a:b@c', 'https://user@host/', 'https://host/#a:b@c'])(
    'leaves %s as it is',
    (url) => {
      expect(maskUrlPassword(url)).toBe(url);
    },
  );
});
